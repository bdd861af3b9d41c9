"""Load demo agencies into PostgreSQL: tenants through crm.tenancy, rows by COPY under row-level security.

Per agency: `create_tenant` makes the tenant, its admin user and an admin API key; then one
transaction as the app role `crm_app`, with `app.tenant_id` set, loads every table, so a failure
leaves none of the agency's rows. PostgreSQL refuses `COPY FROM` into a table with row-level
security for a role subject to it, so each table is COPYed into a transaction-local temporary table
(no RLS, no indexes) and moved with one `INSERT ... SELECT`, which the RLS `with check` policy, the
foreign keys and the unique indexes vet row by row. Agencies whose
admin email already exists in this CRM_HOME are skipped, not duplicated or replaced: their rows and
ground truth stay as they are and their credentials come from demo_credentials.json.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text

from app.demo.agency import agency_domain, agency_names
from app.demo.generate import TABLES, TenantData, contacts_per_tenant, generate_tenant
from app.demo.spec import DEMO_PASSWORD, SIZES, DemoResult, DemoSpec, DemoTenant
from app.demo.workflows import seed_workflows
from crm.db.engine import admin_engine, app_url, psycopg_conninfo, set_tenant_sql
from crm.security import hash_password
from crm.settings import get_settings
from crm.state import ensure_home

CHUNK_ROWS = 25_000
TRUTH_FILES = ("leads", "accounts", "facts")


def copy_frame(cur: psycopg.Cursor, table: str, frame: pl.DataFrame, on_rows=None) -> None:
    """COPY a frame into `table` in CSV chunks (polars writes NULL as an empty field, '' as "")."""
    cols = ", ".join(frame.columns)
    with cur.copy(f"copy {table} ({cols}) from stdin (format csv)") as cp:
        for offset in range(0, len(frame), CHUNK_ROWS):
            part = frame.slice(offset, CHUNK_ROWS)
            buf = io.BytesIO()
            part.write_csv(buf, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z")
            cp.write(buf.getvalue())
            if on_rows:
                on_rows(len(part))


def copy_under_rls(cur: psycopg.Cursor, table: str, frame: pl.DataFrame, on_rows=None) -> None:
    """COPY into a temporary twin of `table`, then INSERT ... SELECT into `table` under RLS."""
    stage = f"_demo_stage_{table}"
    cur.execute(f"create temp table {stage} (like {table} including defaults) on commit drop")
    copy_frame(cur, stage, frame, on_rows)
    cols = ", ".join(frame.columns)
    cur.execute(f"insert into {table} ({cols}) select {cols} from {stage}")


def load_tenant_rows(tenant_id: str, data: TenantData, on_rows=None) -> dict[str, int]:
    """All of one agency's rows in one transaction as crm_app with the tenant set; all or nothing."""
    counts = {}
    with psycopg.connect(psycopg_conninfo(app_url())) as conn, conn.cursor() as cur:
        cur.execute(set_tenant_sql(tenant_id))
        for table in TABLES:
            frame = data.tables[table]
            copy_under_rls(cur, table, frame.select(pl.lit(tenant_id).alias("tenant_id"), pl.all()), on_rows)
            counts[table] = len(frame)
        conn.commit()
    return counts


def _existing_tenant(admin_email: str) -> dict | None:
    with admin_engine().connect() as c:
        row = c.execute(text("select t.id, t.name, t.slug, t.churn_mode, "
                             "exists (select 1 from contacts x where x.tenant_id = t.id) as loaded "
                             "from users u join tenants t on t.id = u.tenant_id where lower(u.email) = lower(:e)"),
                        {"e": admin_email}).first()
    return None if row is None else {"tenant_id": str(row.id), "name": row.name, "slug": row.slug,
                                     "churn_mode": row.churn_mode, "loaded": row.loaded}


def _drop_tenant(tenant_id: str, console: Console) -> bool:
    try:
        with admin_engine().begin() as c:
            c.execute(text("delete from tenants where id = :t"), {"t": tenant_id})
        return True
    except Exception as exc:  # the load already failed; say what is left behind
        console.print(f"[yellow]could not remove the half-created demo tenant {tenant_id}: "
                      f"{str(exc).splitlines()[0]}[/yellow]")
        return False


def _previous_credentials(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    return {t["admin_email"]: t for t in json.loads(path.read_text()).get("tenants", [])}


def _skipped(found: dict, email: str, previous: dict[str, dict]) -> DemoTenant:
    from crm.tenancy import authenticate_api_key, create_api_key

    old = previous.get(email)
    key = old.get("api_key") if old else None
    if not key or authenticate_api_key(key) is None:
        key = create_api_key(found["tenant_id"], role="admin", name="demo key")["api_key"]
    users = old.get("users", []) if old else []
    return DemoTenant(found["tenant_id"], found["name"], found["slug"], found["churn_mode"], email, DEMO_PASSWORD,
                      key, users=users, rows=old.get("rows", {}) if old else {}, skipped=True)


def _write_truth(gt_dir: Path, parts: dict[str, list[pl.DataFrame]], replaced: set[str]) -> None:
    """Merge this load's ground truth into the files, replacing the rows of the tenants just loaded."""
    gt_dir.mkdir(parents=True, exist_ok=True)
    for name in TRUTH_FILES:
        path = gt_dir / f"{name}.parquet"
        frames = list(parts[name])
        if path.exists():
            old = pl.read_parquet(path)
            frames.insert(0, old.filter(~pl.col("tenant_id").is_in(list(replaced))))
        frames = [f for f in frames if len(f.columns)]
        if not frames:
            continue
        tmp = path.with_suffix(".tmp")
        pl.concat(frames, how="vertical_relaxed").write_parquet(tmp)
        os.replace(tmp, path)


def analyze_tables() -> None:
    """Fresh planner statistics for the loaded tables: with the empty-table estimates PostgreSQL plans the
    live feature queries for a handful of rows, and one takes ~10 s instead of ~150 ms."""
    with admin_engine().begin() as c:
        c.execute(text(f"analyze {', '.join(TABLES)}"))


def load_demo(size: str = "small", seed: int = 7, end_date: date | None = None, spec: DemoSpec | None = None,
              console: Console | None = None,
              on_tenant: Callable[[DemoTenant, int, int], None] | None = None) -> DemoResult:
    """Create the demo agencies of `size` (or `spec`), 24 months of history ending `end_date` (today).
    `on_tenant(tenant, done, total)` is called as each agency is in (loaded now or already there), first
    agency first, so its login can be shown while the others load."""
    started = time.perf_counter()
    if spec is None:
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
        spec = SIZES[size]
    end_date = end_date or date.today()
    console = console or Console(stderr=True)
    ensure_home()
    settings = get_settings()
    cred_path = settings.home / "demo_credentials.json"
    previous = _previous_credentials(cred_path)
    names = agency_names(np.random.default_rng([seed, 7919]), spec.tenants)
    sizes = contacts_per_tenant(seed, spec)
    password_hash = hash_password(DEMO_PASSWORD)  # one argon2 hash shared by the agencies' staff logins
    tenants: list[DemoTenant] = []
    truth: dict[str, list[pl.DataFrame]] = {name: [] for name in TRUTH_FILES}
    loaded: set[str] = set()

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        overall = progress.add_task(f"demo {spec.name}: agencies", total=spec.tenants)
        rows_task = progress.add_task("rows", total=None, visible=False)
        by_index: dict[int, DemoTenant] = {}
        todo = []
        for i, name in enumerate(names):
            email = f"admin@{agency_domain(name, seed, spec.tag)}"
            found = _existing_tenant(email)
            if found and not found["loaded"] and not _drop_tenant(found["tenant_id"], console):
                raise RuntimeError(f"demo tenant {found['tenant_id']} ({email}) exists from a failed load and "
                                   "cannot be removed; delete it (or use another CRM_HOME) and run again")
            if found and found["loaded"]:
                seed_workflows(found["tenant_id"])   # agencies loaded before the demo had workflows get them
                by_index[i] = _skipped(found, email, previous)
                progress.advance(overall)
                if on_tenant:
                    on_tenant(by_index[i], len(by_index), spec.tenants)
            else:
                todo.append((i, name, email))
        # Generate the next agency in a thread while PostgreSQL ingests the current one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            def generate(k: int):
                i, name, _ = todo[k]
                return pool.submit(generate_tenant, seed, spec, i, name, sizes[i], end_date, password_hash)

            upcoming = generate(0) if todo else None
            for k, (i, name, email) in enumerate(todo):
                progress.update(rows_task, description=f"{name}: generating", completed=0, total=None, visible=True)
                data = upcoming.result()
                upcoming = generate(k + 1) if k + 1 < len(todo) else None
                progress.update(rows_task, description=f"{name}: loading", total=data.rows)
                by_index[i] = _load_one(data, email, progress, rows_task, console)
                tid = by_index[i].tenant_id
                loaded.add(tid)
                for key, frame in (("leads", data.leads), ("accounts", data.accounts), ("facts", data.facts)):
                    truth[key].append(frame.select(pl.lit(tid).alias("tenant_id"), pl.all()))
                if k == 0:  # what reads the first agency while the others load is planned on its real sizes
                    analyze_tables()
                progress.advance(overall)
                if on_tenant:
                    on_tenant(by_index[i], len(by_index), spec.tenants)
        progress.update(rows_task, visible=False)
        tenants = [by_index[i] for i in sorted(by_index)]
    if len(todo) > 1:
        analyze_tables()

    _write_truth(settings.ground_truth_dir, truth, loaded)
    result = DemoResult(size=spec.name, seed=seed, end_date=end_date, tenants=tenants, credentials_path=cred_path,
                        ground_truth_dir=settings.ground_truth_dir, seconds=time.perf_counter() - started)
    listed = {t.admin_email for t in tenants}
    payload = result.to_json()
    payload["tenants"] += [t for e, t in previous.items() if e not in listed]
    payload["note"] = "Demo logins and API keys. Every demo user's password is in admin_password."
    cred_path.write_text(json.dumps(payload, indent=2, default=str))
    return result


def _load_one(data: TenantData, email: str, progress: Progress, task, console: Console) -> DemoTenant:
    from crm.tenancy import create_tenant

    ag = data.agency
    made = create_tenant(ag.name, email, DEMO_PASSWORD, churn_mode=ag.churn_mode)
    started = time.perf_counter()
    try:
        counts = load_tenant_rows(made["tenant_id"], data, lambda n: progress.advance(task, n))
        seed_workflows(made["tenant_id"])
    except Exception:
        _drop_tenant(made["tenant_id"], console)
        raise
    with admin_engine().connect() as c:
        slug = c.execute(text("select slug from tenants where id = :t"), {"t": made["tenant_id"]}).scalar_one()
    users = [{"email": email, "password": DEMO_PASSWORD, "role": "admin", "name": "admin"}]
    users += [{"email": e, "password": DEMO_PASSWORD, "role": r, "name": n}
              for e, r, n in ag.users.select("email", "role", "name").iter_rows()]
    return DemoTenant(made["tenant_id"], ag.name, slug, ag.churn_mode, email, DEMO_PASSWORD, made["api_key"],
                      users=users, rows=counts, load_seconds=time.perf_counter() - started)

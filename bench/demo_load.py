"""Demo load speed: `load_demo("medium")` into a throwaway CRM_HOME, and the same rows through a bare COPY.

Prints the end-to-end time (generation + tenants + load), the rate of the database part (COPY into a
temporary twin, then INSERT ... SELECT under RLS with foreign keys and indexes, one transaction per
agency), and beside it the rate of a bare COPY of the very same rows (same CSV writer) into empty
tables without indexes, constraints or RLS, measured in the same run on the same server.

    .venv/bin/python bench/demo_load.py [--size medium] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="medium")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="crm-bench-demo-")
    os.environ["CRM_HOME"] = home
    try:
        run(args.size, args.seed)
    finally:
        from crm.settings import reset_settings

        reset_settings()
        shutil.rmtree(home, ignore_errors=True)


def run(size: str, seed: int) -> None:
    import polars as pl
    import psycopg

    from app.demo import SIZES, load_demo
    from app.demo.agency import agency_names
    from app.demo.generate import TABLES, contacts_per_tenant, generate_tenant
    from app.demo.load import copy_frame
    from crm.db.engine import admin_url, psycopg_conninfo
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    ensure_home()
    migrate()
    end = date(2026, 6, 30)
    started = time.perf_counter()
    result = load_demo(size, seed=seed, end_date=end)
    total = time.perf_counter() - started
    rows = result.rows
    db_seconds = sum(t.load_seconds for t in result.tenants)
    print(f"demo {size}: {len(result.tenants)} agencies, {rows:,} rows", flush=True)
    print(f"  end to end (generate + create tenants + load): {total:7.1f} s  {rows / total:9,.0f} rows/s", flush=True)

    # Baseline: regenerate the identical rows (deterministic) and time only the bare COPY.
    import numpy as np

    spec = SIZES[size]
    names = agency_names(np.random.default_rng([seed, 7919]), spec.tenants)
    sizes = contacts_per_tenant(seed, spec)
    bare_seconds, bare_rows = 0.0, 0
    with psycopg.connect(psycopg_conninfo(admin_url()), autocommit=True) as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"create table bare_{table} (like {table} including defaults)")
        for i, name in enumerate(names):
            data = generate_tenant(seed, spec, i, name, sizes[i], end, "bench-hash")
            tid = result.tenants[i].tenant_id
            t0 = time.perf_counter()
            with conn.transaction():
                for table in TABLES:
                    frame = data.tables[table].select(pl.lit(tid).alias("tenant_id"), pl.all())
                    copy_frame(cur, f"bare_{table}", frame)
                    bare_rows += len(frame)
            bare_seconds += time.perf_counter() - t0
    assert bare_rows == rows, (bare_rows, rows)

    print(f"  database load under RLS (COPY->temp, INSERT..SELECT): {db_seconds:7.1f} s  "
          f"{rows / db_seconds:9,.0f} rows/s")
    print(f"  bare COPY, same rows, no index/constraint/RLS:  {bare_seconds:7.1f} s  "
          f"{rows / bare_seconds:9,.0f} rows/s")
    print(f"  ratio RLS load / bare COPY rate: {bare_seconds / db_seconds:.2f}  "
          f"(bare COPY is {db_seconds / bare_seconds:.1f}x faster)")


if __name__ == "__main__":
    main()

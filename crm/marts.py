"""Read the governed marts for one tenant: the analysts' (and the notebooks') one door into the warehouse.

Every read names one tenant, validated as a UUID and bound as a query parameter, so a notebook can never
see another agency's rows by forgetting a filter. The DuckDB warehouse is opened read-only (a running
pipeline keeps its write lock; readers never block it for long). With `CRM_WAREHOUSE=postgres` the marts
are the dbt postgres target's `warehouse_marts` schema, read in a READ ONLY transaction; that schema has no
row-level security (dbt builds it as the admin role), so the tenant filter here is what keeps tenants apart.
Scores live in PostgreSQL under RLS and are read through `tenant_session`, as the app role.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from crm.settings import get_settings

SCHEMAS = {"duckdb": "marts", "postgres": "warehouse_marts"}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class MartError(RuntimeError):
    """The marts cannot be read as asked (no warehouse yet, unknown mart or column, warehouse busy)."""


def tenant_uuid(tenant_id: object) -> str:
    """The tenant id in canonical form; anything that is not a UUID is refused before any query runs."""
    if isinstance(tenant_id, uuid.UUID):
        return str(tenant_id)
    if not isinstance(tenant_id, str):
        raise ValueError(f"tenant_id must be a UUID string, not {type(tenant_id).__name__}")
    try:
        return str(uuid.UUID(tenant_id.strip()))
    except ValueError:
        raise ValueError(f"tenant_id must be a UUID, not {tenant_id!r}") from None


def _backend(backend: str | None) -> str:
    backend = backend or get_settings().crm_warehouse
    if backend not in SCHEMAS:
        raise ValueError(f"backend must be one of {', '.join(SCHEMAS)}, not {backend!r}")
    return backend


def _duckdb_query(sql: str, params: list, warehouse: Path | None) -> pd.DataFrame:
    import duckdb

    path = Path(warehouse or get_settings().warehouse_path)
    if not path.exists():
        raise MartError(f"no warehouse at {path}: run `crm pipeline run` (or `make demo`) first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        raise MartError(f"the warehouse {path} is locked by a writer (a pipeline run?); try again when it ends "
                        f"({str(exc).splitlines()[0]})") from exc
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql, params).df()
    finally:
        con.close()


def _postgres_query(sql: str, params: list) -> pd.DataFrame:
    from crm.db.engine import admin_engine

    # DuckDB-style `?` placeholders become numbered binds, so one SQL text serves both backends.
    binds = {f"p{i}": v for i, v in enumerate(params)}
    counter = iter(range(len(params)))
    pg_sql = re.sub(r"\?", lambda _: f":p{next(counter)}", sql)
    with admin_engine().connect() as conn, conn.begin():
        conn.execute(text("set transaction read only"))
        result = conn.execute(text(pg_sql), binds)
        return _like_duckdb(pd.DataFrame(result.fetchall(), columns=list(result.keys())))


def _like_duckdb(frame: pd.DataFrame) -> pd.DataFrame:
    """Give postgres rows the dtypes DuckDB's `.df()` gives, so a notebook runs unchanged on either target:
    numeric (Decimal) -> float, date -> datetime64, timestamptz -> naive UTC datetime64."""
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            frame[name] = col.dt.tz_convert("UTC").dt.tz_localize(None)
            continue
        if col.dtype != object:
            continue
        sample = col.dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, decimal.Decimal):
            frame[name] = col.astype(float)
        elif isinstance(first, dt.datetime):
            frame[name] = pd.to_datetime(col, utc=True).dt.tz_localize(None)
        elif isinstance(first, dt.date):
            frame[name] = pd.to_datetime(col)
    return frame


def _query(backend: str, sql: str, params: list, warehouse: Path | None) -> pd.DataFrame:
    return _postgres_query(sql, params) if backend == "postgres" else _duckdb_query(sql, params, warehouse)


def mart_columns(name: str, backend: str | None = None, warehouse: Path | None = None) -> dict[str, str]:
    """{column: type} of one mart, in table order; MartError when there is no such mart."""
    backend = _backend(backend)
    if not IDENTIFIER.match(name or ""):
        raise ValueError(f"mart name must be a plain lowercase identifier, not {name!r}")
    cols = _query(backend, "select column_name, data_type from information_schema.columns "
                           "where table_schema = ? and table_name = ? order by ordinal_position",
                  [SCHEMAS[backend], name], warehouse)
    if cols.empty:
        known = ", ".join(list_marts(backend, warehouse)) or "none yet: run `crm pipeline run`"
        raise MartError(f"no mart named {name!r} in {SCHEMAS[backend]} (marts: {known})")
    return dict(zip(cols["column_name"], cols["data_type"], strict=True))


def list_marts(backend: str | None = None, warehouse: Path | None = None) -> list[str]:
    backend = _backend(backend)
    found = _query(backend, "select distinct table_name from information_schema.tables where table_schema = ? "
                            "order by table_name", [SCHEMAS[backend]], warehouse)
    return found["table_name"].tolist()


def read_mart(name: str, tenant_id: object, columns: Sequence[str] | None = None, *, backend: str | None = None,
              warehouse: Path | None = None) -> pd.DataFrame:
    """One tenant's rows of mart `name` as a pandas DataFrame (UUIDs as strings, timestamps in UTC).

    `columns` picks columns (default all); `backend` is `duckdb` or `postgres` (default CRM_WAREHOUSE);
    `warehouse` points at another DuckDB file.
    """
    tid = tenant_uuid(tenant_id)
    backend = _backend(backend)
    types = mart_columns(name, backend, warehouse)
    if "tenant_id" not in types:
        raise MartError(f"mart {name!r} has no tenant_id column, so it cannot be read for one tenant")
    wanted = list(columns) if columns else list(types)
    unknown = [c for c in wanted if c not in types]
    if unknown:
        raise MartError(f"mart {name!r} has no column(s) {', '.join(map(repr, unknown))} "
                        f"(it has: {', '.join(types)})")
    select = ", ".join(f'cast("{c}" as varchar) as "{c}"' if types[c].upper() == "UUID" else f'"{c}"'
                       for c in wanted)
    sql = f'select {select} from {SCHEMAS[backend]}."{name}" where cast(tenant_id as varchar) = ?'
    return _query(backend, sql, [tid], warehouse)


def tenants_in_marts(backend: str | None = None, warehouse: Path | None = None) -> list[str]:
    """Tenant ids that have rows in the `kpis` mart (one row per tenant), sorted."""
    backend = _backend(backend)
    mart_columns("kpis", backend, warehouse)
    ids = _query(backend, f"select distinct cast(tenant_id as varchar) as tenant_id from {SCHEMAS[backend]}.kpis "
                          "order by 1", [], warehouse)
    return ids["tenant_id"].tolist()


def default_tenant_id(backend: str | None = None, warehouse: Path | None = None) -> str:
    """The first demo tenant (from $CRM_HOME/demo_credentials.json) that is in the marts, else the first
    tenant in the marts: what a notebook opens on when its TENANT_ID parameter is left empty."""
    present = tenants_in_marts(backend, warehouse)
    if not present:
        raise MartError("the marts hold no tenant yet: run `crm demo` or `crm pipeline run` first")
    creds = get_settings().home / "demo_credentials.json"
    if creds.exists():
        for tenant in json.loads(creds.read_text()).get("tenants", []):
            if tenant.get("tenant_id") in present:
                return tenant["tenant_id"]
    return present[0]


def read_score_history(tenant_id: object, entity_type: str = "lead", runs: int | None = None) -> pd.DataFrame:
    """Scores published by the scoring pipeline for one tenant, oldest run first; `runs` keeps the newest N
    runs (a run = one `scored_at`). Read as the app role under row-level security, tenant filter on top."""
    from crm.db.engine import tenant_session

    tid = tenant_uuid(tenant_id)
    if entity_type not in ("lead", "account"):
        raise ValueError(f"entity_type must be 'lead' or 'account', not {entity_type!r}")
    newest = "and scored_at in (select distinct scored_at from score_history where tenant_id = cast(:t as uuid) " \
             "and entity_type = :e order by scored_at desc limit :n)" if runs else ""
    sql = text("select cast(entity_id as text) as entity_id, score, probability, tier, model_name, model_version, "
               "scored_at from score_history where tenant_id = cast(:t as uuid) and entity_type = :e "
               f"{newest} order by scored_at, entity_id")
    with tenant_session(tid) as session:
        result = session.execute(sql, {"t": tid, "e": entity_type, "n": runs})
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    if not frame.empty:
        frame["scored_at"] = pd.to_datetime(frame["scored_at"], utc=True)
        frame["tier"] = frame["tier"].str.strip()
    return frame

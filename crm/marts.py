"""Read the governed marts for one tenant: the analysts' (and the notebooks') reader, a thin user of
`crm.warehouse` (the one door to the warehouse) that answers pandas DataFrames.

Every read names one tenant, validated as a UUID and bound as a query parameter, so a notebook can never
see another agency's rows by forgetting a filter. On DuckDB the file is opened read-only (a running
pipeline keeps its write lock; readers never block it for long). With `CRM_WAREHOUSE=postgres` the marts
are the dbt postgres target's `warehouse_marts` schema, read in a READ ONLY transaction; that schema has no
row-level security (dbt builds it as the admin role), so the tenant filter is what keeps tenants apart.
Scores live in PostgreSQL under RLS and are read through `tenant_session` as the app role (crm.scores)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from crm import scores
from crm import warehouse as _wh  # the one door; `warehouse` is this module's path argument
from crm.settings import get_settings
from crm.warehouse import MARTS_SCHEMA as SCHEMAS
from crm.warehouse import WarehouseError as MartError
from crm.warehouse import tenant_uuid

__all__ = ["SCHEMAS", "MartError", "default_tenant_id", "list_marts", "mart_columns", "read_mart",
           "read_score_history", "tenant_uuid", "tenants_in_marts"]


def _target(backend: str | None, path: Path | None) -> dict:
    """`backend`/`warehouse` (this module's documented names) as crm.warehouse's `kind`/`path`."""
    kind = _wh.target(backend, path)
    return {"kind": kind, "path": path if kind == "duckdb" else None}


def mart_columns(name: str, backend: str | None = None, warehouse: Path | None = None) -> dict[str, str]:
    """{column: type} of one mart, in table order; MartError when there is no such mart."""
    return _wh.mart_columns(name, **_target(backend, warehouse))


def list_marts(backend: str | None = None, warehouse: Path | None = None) -> list[str]:
    return _wh.list_marts(**_target(backend, warehouse))


def read_mart(name: str, tenant_id: object, columns: Sequence[str] | None = None, *, backend: str | None = None,
              warehouse: Path | None = None) -> pd.DataFrame:
    """One tenant's rows of mart `name` as a pandas DataFrame (UUIDs as strings, timestamps in UTC).

    `columns` picks columns (default all); `backend` is `duckdb` or `postgres` (default CRM_WAREHOUSE);
    `warehouse` points at another DuckDB file.
    """
    tenant_uuid(tenant_id)  # a bad id is refused before the warehouse is even opened
    where = _target(backend, warehouse)
    sql, params = _wh.mart_select(name, tenant_id, columns, **where)
    return _wh.query_df(sql, params, **where)


def tenants_in_marts(backend: str | None = None, warehouse: Path | None = None) -> list[str]:
    """Tenant ids that have rows in the `kpis` mart (one row per tenant), sorted."""
    where = _target(backend, warehouse)
    _wh.mart_columns("kpis", **where)
    ids = _wh.query(f"select distinct cast(tenant_id as varchar) as tenant_id from {_wh.mart_table('kpis', **where)} "
                    "order by 1", **where)
    return ids.column("tenant_id").to_pylist()


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
    runs (a run = one `scored_at`). Read as the app role under row-level security (crm.scores)."""
    from crm.db.engine import tenant_session

    tid = tenant_uuid(tenant_id)
    if entity_type not in scores.ENTITY_TYPES:
        raise ValueError(f"entity_type must be 'lead' or 'account', not {entity_type!r}")
    with tenant_session(tid) as session:
        rows = scores.tenant_history(session, entity_type, runs)
    frame = pd.DataFrame(rows, columns=list(scores.TENANT_HISTORY_COLUMNS))
    if not frame.empty:
        frame["scored_at"] = pd.to_datetime(frame["scored_at"], utc=True)
        frame["tier"] = frame["tier"].str.strip()
    return frame

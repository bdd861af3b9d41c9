"""Publish marts back into PostgreSQL's `analytics` schema, where the API and dashboard read them.

Each table is swapped in one PostgreSQL transaction: build `analytics.<name>__next`, fill it, drop the
old table, rename, then re-apply forced RLS (owner crm_owner, policy on tenant_id, SELECT to crm_app).
Readers see the old table or the new one, never half of either. The API never opens DuckDB.
The marts are read through `crm.warehouse`: copied out of the DuckDB file, or, on the postgres target,
selected from `warehouse_marts` in the same database.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from crm.db.engine import admin_engine
from crm.db.rls import enable_tenant_rls
from crm.warehouse import duckdb_reader, mart_columns, mart_table, target

PUBLISHED_MARTS = ("kpis", "activities_daily", "pipeline_snapshot", "campaign_performance", "pipeline_forecast")


@dataclass(frozen=True)
class PublishResult:
    table: str
    rows: int
    tenants: int


def _pg_type(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "numeric")
    return {
        "UUID": "uuid", "VARCHAR": "text", "DATE": "date", "TIMESTAMP": "timestamp",
        "TIMESTAMP WITH TIME ZONE": "timestamptz", "DOUBLE": "double precision", "FLOAT": "real",
        "BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "HUGEINT": "numeric",
        "BOOLEAN": "boolean", "INTERVAL": "interval", "JSON": "jsonb",
    }.get(t, "text")


def _swap_in(conn, name: str) -> None:
    """Replace analytics.<name> by analytics.<name>__next inside the caller's transaction."""
    conn.execute(text(f"drop table if exists analytics.{name}"))
    conn.execute(text(f"alter table analytics.{name}__next rename to {name}"))
    conn.execute(text(f"create index {name}_tenant_idx on analytics.{name} (tenant_id)"))
    enable_tenant_rls(lambda sql: conn.execute(text(sql)), f"analytics.{name}", privileges="select")


def _counts(conn, name: str) -> PublishResult:
    rows, tenants = conn.execute(text(f"select count(*), count(distinct tenant_id) from analytics.{name}")).one()
    return PublishResult(name, rows, tenants)


def publish_from_duckdb(name: str, warehouse: Path | None = None) -> PublishResult:
    with tempfile.TemporaryDirectory(prefix="crm-publish-") as tmp:
        csv_path = Path(tmp) / f"{name}.csv"
        cols = list(mart_columns(name, kind="duckdb", path=warehouse).items())  # WarehouseError if not built
        with duckdb_reader(warehouse) as con:
            con.execute(f"copy (select * from {mart_table(name, 'duckdb')}) to '{csv_path}' (format csv, header)")
        col_sql = ", ".join(f'"{c}" {_pg_type(t)}' for c, t in cols)
        with admin_engine().begin() as conn:
            conn.execute(text(f"drop table if exists analytics.{name}__next"))
            conn.execute(text(f"create table analytics.{name}__next ({col_sql})"))
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, open(csv_path, "rb") as f, \
                    cur.copy(f"copy analytics.{name}__next from stdin (format csv, header)") as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            _swap_in(conn, name)
            return _counts(conn, name)


def publish_from_postgres(name: str) -> PublishResult:
    with admin_engine().begin() as conn:
        conn.execute(text(f"drop table if exists analytics.{name}__next"))
        conn.execute(text(f"create table analytics.{name}__next as select * from {mart_table(name, 'postgres')}"))
        _swap_in(conn, name)
        return _counts(conn, name)


def publish(name: str, kind: str | None = None) -> PublishResult:
    """Publish mart `name` from the warehouse target (`kind`, default CRM_WAREHOUSE)."""
    if name not in PUBLISHED_MARTS:
        raise ValueError(f"{name!r} is not a published mart ({', '.join(PUBLISHED_MARTS)})")
    return publish_from_postgres(name) if target(kind) == "postgres" else publish_from_duckdb(name)

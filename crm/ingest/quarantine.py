"""Rows the warehouse cannot take are held back one by one, so one row never stops the extract for everyone.

The finding: one activity at 1 BC made DuckDB refuse the whole CSV batch of `activities`
(`Could not convert string "0001-12-31 23:00:00+00 BC"`), the extract failed, and every agency's marts,
scores and insight index went stale. Now each batch is split three ways:
- PostgreSQL marks every row with a timestamp or date outside the product's range (crm.timestamps; BC
  and 'infinity' included) with the reason and the row itself (secret columns left out);
- DuckDB reads the batch as text and converts with try_cast, so any other value it cannot read holds
  back only its own row, named by the column that failed;
- the rest is the batch that is loaded.
Held rows land in `raw._quarantine` (table, key, tenant, reason, the row, when) and are counted in the
extract's result for the Dagster UI. Every row re-read gets a fresh verdict: once fixed in PostgreSQL
(or deleted, or moved by `quarantine_out_of_range()`) it leaves the quarantine with the next run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from crm.ingest.tables import SourceTable
from crm.timestamps import RANGE_TEXT, in_range_sql

QUARANTINE = "_quarantine"
HELD_REASON, HELD_RECORD = "_held_reason", "_held_record"
_RANGED = {"TIMESTAMPTZ": False, "TIMESTAMP": False, "DATE": True}   # DuckDB type -> is a date


def ensure_quarantine(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create table if not exists raw.{QUARANTINE} (table_name varchar not null, "
                "record_key varchar not null, tenant_id uuid, reason varchar not null, record json, "
                "held_at timestamptz not null, primary key (table_name, record_key))")


def held_columns_sql(cols: list[tuple[str, str]], excluded: tuple[str, ...], alias: str = "t") -> str:
    """Two more columns for the PostgreSQL select of `alias`: why the row is held (NULL when every
    timestamp and date is in range) and, only then, the row as JSON without the excluded columns."""
    checks = [(n, in_range_sql(f'{alias}."{n}"', _RANGED[t])) for n, t in cols if t in _RANGED]
    if not checks:
        return f"null::text as {HELD_REASON}, null::text as {HELD_RECORD}"
    fits = " and ".join(check for _, check in checks)
    reasons = ", ".join(f"case when not {check} then '{n} ' || {alias}.\"{n}\"::text || "
                        f"' is outside the supported range: values must be {RANGE_TEXT}' end" for n, check in checks)
    secret = "{" + ",".join(excluded) + "}"
    record = f"(to_jsonb({alias}) - cast('{secret}' as text[]))::text"
    return (f"case when {fits} then null else concat_ws('; ', {reasons}) end as {HELD_REASON}, "
            f"case when {fits} then null else {record} end as {HELD_RECORD}")


def _key_sql(table: SourceTable, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "concat_ws('/', " + ", ".join(f'cast({prefix}"{k}" as varchar)' for k in table.key) + ")"


def split_batch(con: duckdb.DuckDBPyConnection, table: SourceTable, cols: list[tuple[str, str]],
                csv_path: Path) -> int:
    """Read the COPY output at `csv_path` into temp table `_batch` (typed, only rows that fit) and hold
    the rest in raw._quarantine; returns how many rows of this batch were held."""
    text_types = [*((n, "VARCHAR") for n, _ in cols), (HELD_REASON, "VARCHAR"), (HELD_RECORD, "VARCHAR")]
    columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in text_types) + "}"
    # Materialised first: a try_cast straight over read_csv is pushed into the reader, which then raises.
    con.execute(f"create or replace temp table _text as select * from read_csv('{csv_path}', header = true, "
                f"columns = {columns}, allow_quoted_nulls = false, auto_detect = false)")
    typed = [(n, t) for n, t in cols if t != "VARCHAR"]
    fails = {n: f'("{n}" is not null and try_cast("{n}" as {t}) is null)' for n, t in typed}
    any_fail = " or ".join(fails.values()) or "false"
    why = "concat_ws('; ', " + ", ".join(
        [f"case when {fails[n]} then '{n}: ' || \"{n}\" || ' cannot be read as {t}' end" for n, t in typed]
        or ["null"]) + ")"
    record = "json_object(" + ", ".join(f"'{n}', \"{n}\"" for n, _ in cols) + ")"
    tenant = '"tenant_id"' if any(n == "tenant_id" for n, _ in cols) else '"id"'
    key = _key_sql(table)
    con.execute(f"create or replace temp table _rejects as select {key} as record_key, "
                f"try_cast({tenant} as uuid) as tenant_id, coalesce({HELD_REASON}, {why}) as reason, "
                f"coalesce({HELD_RECORD}, cast({record} as varchar)) as record from _text "
                f"where {HELD_REASON} is not null or {any_fail}")
    held = con.execute("select count(*) from _rejects").fetchone()[0]
    if con.execute(f"select count(*) from raw.{QUARANTINE} where table_name = ?", [table.name]).fetchone()[0]:
        # every row read again gets a fresh verdict: one fixed since the last run leaves the quarantine
        con.execute(f"delete from raw.{QUARANTINE} where table_name = ? and record_key in (select {key} from _text)",
                    [table.name])
    if held:
        con.execute(f"insert into raw.{QUARANTINE} select ?, record_key, tenant_id, reason, record, now() "
                    "from _rejects", [table.name])
        # a version extracted before the row went bad must not stay in the marts as if it were current
        con.execute(f'delete from raw."{table.name}" where {_key_sql(table)} in (select record_key from _rejects)')
    casts = ", ".join(f'try_cast("{n}" as {t}) as "{n}"' if t != "VARCHAR" else f'"{n}"' for n, t in cols)
    con.execute(f"create or replace temp table _batch as select {casts} from _text "
                f"where {HELD_REASON} is null and not ({any_fail})")
    con.execute("drop table _text")
    con.execute("drop table _rejects")
    return held


def forget(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Drop quarantine entries of rows that are gone (tombstones, deleted tenants): `where` over its columns."""
    con.execute(f"delete from raw.{QUARANTINE} where {where}")


def held_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows currently held back, per table: what the operator sees in the Dagster UI."""
    return dict(con.execute(f"select table_name, count(*) from raw.{QUARANTINE} group by 1").fetchall())

"""Incremental extract: PostgreSQL (system of record) -> DuckDB `raw` schema, by updated_at watermark.

How it stays correct:
- One REPEATABLE READ, read-only PostgreSQL transaction reads every table, so the copy is one
  consistent snapshot (no deal without its stage).
- Rows with `watermark > last_watermark - lookback` are re-read and upserted by key: a row committed
  late (its updated_at is its transaction's start) is caught by the overlap; rows seen twice are
  replaced by identical rows, so a second run changes nothing.
- The new watermark never passes the start of the oldest transaction still writing, so a long
  transaction that commits after the snapshot is read by the next run.
- Hard deletes arrive through the `deleted_records` tombstones and delete the row by id.
- A row the warehouse cannot take (a timestamp outside the product's range, a value DuckDB cannot
  read) is held back in `raw._quarantine` with its reason (crm.ingest.quarantine); every other row and
  tenant is extracted.
- Everything lands in one DuckDB transaction: a run killed half-way leaves the warehouse as it was
  (DuckDB's WAL drops the uncommitted work), and the next run starts from the old watermarks.

The extract is a platform job across all tenants, so it reads as the admin (superuser) connection;
the warehouse keeps tenant_id on every row and every model filters and joins on it. It is the DuckDB
file's one writer (`crm.warehouse.writer`); the postgres target has no extract (`has_extract`): dbt's
sources there are the system of record's own `public` tables.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from crm.db.engine import admin_engine
from crm.ingest.quarantine import ensure_quarantine, forget, held_columns_sql, held_counts, split_batch
from crm.ingest.tables import SOURCE_TABLES, SourceTable, duckdb_type
from crm.warehouse import writer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_LOOKBACK = timedelta(minutes=10)
TOMBSTONES = "_deleted_records"


@dataclass
class ExtractResult:
    upserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)   # rows held back now, per table
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.upserted.values())


def _columns(pg, table: str, excluded: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = pg.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = 'public' and table_name = %s order by ordinal_position", (table,)
    ).fetchall()
    if not rows:
        raise RuntimeError(f"table public.{table} does not exist: run `crm migrate` first")
    return [(name, duckdb_type(dt, p, s)) for name, dt, p, s in rows if name not in excluded]


def _ensure_raw_table(con: duckdb.DuckDBPyConnection, table: SourceTable, cols: list[tuple[str, str]]) -> None:
    col_sql = ", ".join(f'"{n}" {t}' for n, t in cols)
    # Keys are unique per tenant: the warehouse never assumes ids are unique across tenants.
    names = [n for n, _ in cols]
    pk = table.key if "tenant_id" in table.key or "tenant_id" not in names else ("tenant_id", *table.key)
    con.execute(f'create table if not exists raw."{table.name}" ({col_sql}, primary key ({", ".join(pk)}))')
    have = {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
        [table.name]).fetchall()}
    for name, typ in cols:  # a migration added a column: add it here too
        if name not in have:
            con.execute(f'alter table raw."{table.name}" add column "{name}" {typ}')


def _watermarks(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    con.execute("create table if not exists raw._watermarks (table_name varchar primary key, "
                "high_watermark timestamptz not null, extracted_at timestamptz not null)")
    return {name: wm for name, wm in con.execute("select table_name, high_watermark from raw._watermarks").fetchall()}


def _since(ts: datetime) -> str:
    return f"'{ts.isoformat()}'::timestamptz"


def _copy_to_csv(pg, query: str, path: Path) -> None:
    with pg.cursor() as cur, open(path, "wb") as out, \
            cur.copy(f"copy ({query}) to stdout (format csv, header)") as copy:
        for chunk in copy:
            out.write(chunk)


def _oldest_writer_start(pg) -> datetime | None:
    """Start of the oldest other transaction that has written: rows it commits later carry that time."""
    row = pg.execute("select min(xact_start) from pg_stat_activity "
                     "where backend_xid is not null and pid <> pg_backend_pid()").fetchone()
    return row[0] if row else None


def _load_table(con, pg, table: SourceTable, since: datetime, tmp: Path) -> tuple[int, datetime | None]:
    cols = _columns(pg, table.name, table.excluded)
    _ensure_raw_table(con, table, cols)
    names = ", ".join(f'"{n}"' for n, _ in cols)
    csv_path = tmp / f"{table.name}.csv"
    selected = ", ".join(f't."{n}"' for n, _ in cols)
    _copy_to_csv(pg, f'select {selected}, {held_columns_sql(cols, table.excluded)} from public."{table.name}" t '
                     f'where t."{table.watermark}" > {_since(since)}', csv_path)
    split_batch(con, table, cols, csv_path)   # the rows that fit, typed, in _batch; the rest held back
    n = con.execute("select count(*) from _batch").fetchone()[0]
    if n:
        match = " and ".join(f'r."{k}" = b."{k}"' for k in table.key)
        con.execute(f'delete from raw."{table.name}" r using _batch b where {match}')
        con.execute(f'insert into raw."{table.name}" ({names}) select {names} from _batch')
    top = con.execute(f'select max("{table.watermark}") from _batch').fetchone()[0]
    con.execute("drop table _batch")
    return n, top


def _apply_tombstones(con, pg, since: datetime, tmp: Path, result: ExtractResult) -> datetime | None:
    csv_path = tmp / "deleted_records.csv"
    query = f"select table_name, record_id, deleted_at from deleted_records where deleted_at > {_since(since)}"
    _copy_to_csv(pg, query, csv_path)
    con.execute(f"create or replace temp table _tomb as select * from read_csv('{csv_path}', header = true, "
                "columns = {'table_name': 'VARCHAR', 'record_id': 'UUID', 'deleted_at': 'TIMESTAMPTZ'}, "
                "auto_detect = false)")
    for table in SOURCE_TABLES:
        if not table.tombstoned:
            continue
        gone = con.execute(f'delete from raw."{table.name}" where id in '
                           f"(select record_id from _tomb where table_name = '{table.name}')").fetchone()
        result.deleted[table.name] = gone[0] if gone else 0
        forget(con, f"table_name = '{table.name}' and record_key in "
                    f"(select cast(record_id as varchar) from _tomb where table_name = '{table.name}')")
    top = con.execute("select max(deleted_at) from _tomb").fetchone()[0]
    con.execute("drop table _tomb")
    return top


def _drop_deleted_tenants(con, pg, tmp: Path, result: ExtractResult) -> None:
    """A deleted tenant cascades in PostgreSQL; here its rows go in the same run (tenants leave no tombstone)."""
    csv_path = tmp / "live_tenants.csv"
    _copy_to_csv(pg, "select id from tenants", csv_path)
    con.execute(f"create or replace temp table _live as select * from read_csv('{csv_path}', header = true, "
                "columns = {'id': 'UUID'}, auto_detect = false)")
    for table in SOURCE_TABLES:
        exists = con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                             "and table_name = ?", [table.name]).fetchone()[0]
        if not exists:
            continue
        column = "id" if table.name == "tenants" else "tenant_id"
        gone = con.execute(f'delete from raw."{table.name}" where {column} not in (select id from _live)').fetchone()
        if gone and gone[0]:
            result.deleted[table.name] = result.deleted.get(table.name, 0) + gone[0]
    forget(con, "tenant_id not in (select id from _live)")
    con.execute("drop table _live")


def extract(warehouse: Path | None = None, lookback: timedelta = DEFAULT_LOOKBACK,
            tables: tuple[SourceTable, ...] = SOURCE_TABLES) -> ExtractResult:
    """Bring the warehouse's raw schema up to date with PostgreSQL; safe to run any number of times."""
    started = time.perf_counter()
    result = ExtractResult()
    raw_pg = admin_engine().raw_connection()
    try:
        pg = raw_pg.driver_connection
        pg.autocommit = False
        pg.execute("set transaction isolation level repeatable read, read only")
        pg.execute("set local timezone = 'UTC'")
        oldest_writer = _oldest_writer_start(pg)
        with writer(warehouse) as con, tempfile.TemporaryDirectory(prefix="crm-extract-") as tmpdir:
            tmp = Path(tmpdir)
            con.execute("begin transaction")
            con.execute("create schema if not exists raw")
            ensure_quarantine(con)
            marks = _watermarks(con)
            new_marks: dict[str, datetime] = {}
            for table in (*tables, SourceTable(TOMBSTONES)):
                since = marks.get(table.name, EPOCH)
                since_overlap = since - lookback if since > EPOCH else since
                if table.name == TOMBSTONES:
                    top = _apply_tombstones(con, pg, since_overlap, tmp, result)
                else:
                    result.upserted[table.name], top = _load_table(con, pg, table, since_overlap, tmp)
                mark = max(since, top) if top else since
                if oldest_writer is not None and mark >= oldest_writer:
                    # rows of that transaction carry updated_at = its start: stay just below it
                    mark = max(since, oldest_writer - timedelta(microseconds=1))
                new_marks[table.name] = mark
            _drop_deleted_tenants(con, pg, tmp, result)
            result.quarantined = {t.name: 0 for t in tables} | held_counts(con)
            now = datetime.now(UTC)
            con.executemany("insert or replace into raw._watermarks values (?, ?, ?)",
                            [(name, mark, now) for name, mark in new_marks.items()])
            con.execute("commit")
        pg.rollback()
    finally:
        raw_pg.close()
    result.seconds = time.perf_counter() - started
    return result

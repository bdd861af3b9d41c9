"""The one door to the warehouse, on either target: the DuckDB file or the dbt `postgres` target.

The target is `settings.crm_warehouse` (CRM_WAREHOUSE), read here and nowhere else:
- `duckdb` (default): `$CRM_HOME/warehouse.duckdb`. DuckDB lets one process write the file at a time, so
  the extract is its only writer (`writer()`) and every reader opens it read-only, reads and closes: a
  reader never holds the pipeline up for long, and a busy file is a clear `WarehouseError`, not a hang.
- `postgres`: the schemas `warehouse_*` dbt builds in the product's own PostgreSQL, straight from the
  system of record's `public` tables (so that target has no extract and no writer here). They are read
  as the admin role in a READ ONLY transaction; they carry no row-level security (dbt builds them across
  all tenants), so a tenant filter here is what keeps tenants apart, and it is always a bound parameter.

SQL text given to `query` uses `?` placeholders (DuckDB's; turned into psycopg's on PostgreSQL, so a
`?` may not appear elsewhere in the text) and names marts through `mart_table`, so one text serves both
targets. Results come as Arrow tables with the same types on both: UUIDs as text, decimals as float64,
dates as date32, timestamptz as UTC timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from crm.ids import parse_uuid
from crm.settings import get_settings

TARGETS = ("duckdb", "postgres")
MARTS_SCHEMA = {"duckdb": "marts", "postgres": "warehouse_marts"}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# PostgreSQL type name -> Arrow type of the column, so a column of nulls still has its type.
PG_ARROW = {
    "int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64(), "float4": pa.float32(), "float8": pa.float64(),
    "numeric": pa.float64(), "bool": pa.bool_(), "date": pa.date32(), "timestamptz": pa.timestamp("us", "UTC"),
    "timestamp": pa.timestamp("us"),
}


class WarehouseError(RuntimeError):
    """The warehouse cannot be read as asked (none built yet, unknown mart or column, file busy)."""


def target(kind: str | None = None, path: Path | None = None) -> str:
    """`duckdb` or `postgres`: `kind` if given, else CRM_WAREHOUSE; an explicit DuckDB `path` means duckdb."""
    if path is not None:
        if kind == "postgres":
            raise ValueError("a warehouse path names a DuckDB file; the postgres target has none")
        return "duckdb"
    kind = kind or get_settings().crm_warehouse
    if kind not in TARGETS:
        raise ValueError(f"warehouse target must be one of {', '.join(TARGETS)}, not {kind!r}")
    return kind


def has_extract(kind: str | None = None) -> bool:
    """Only the DuckDB target is fed by the extract; dbt reads PostgreSQL's tables directly otherwise."""
    return target(kind) == "duckdb"


def duckdb_path(path: Path | None = None) -> Path:
    return Path(path or get_settings().warehouse_path)


def describe(kind: str | None = None, path: Path | None = None) -> str:
    """Where the marts are, for logs and lineage: `duckdb:<file>` or `postgres:<schema>`."""
    kind = target(kind, path)
    return f"duckdb:{duckdb_path(path)}" if kind == "duckdb" else f"postgres:{MARTS_SCHEMA['postgres']}"


def mart_table(name: str, kind: str | None = None, path: Path | None = None) -> str:
    """The qualified name of mart `name` on the target; only plain lowercase identifiers are accepted."""
    if not IDENTIFIER.match(name or ""):
        raise ValueError(f"mart name must be a plain lowercase identifier, not {name!r}")
    return f'{MARTS_SCHEMA[target(kind, path)]}."{name}"'


def tenant_uuid(tenant_id: object) -> str:
    """The tenant id in canonical form; anything that is not a UUID is refused before any query runs."""
    return str(parse_uuid(tenant_id, "tenant_id"))


# --- connections -------------------------------------------------------------------------------------


@contextmanager
def duckdb_reader(path: Path | None = None) -> Iterator:
    """A read-only connection to the DuckDB file, closed on exit."""
    import duckdb

    file = duckdb_path(path)
    if not file.exists():
        raise WarehouseError(f"no warehouse at {file}: run `crm pipeline run` (or `make demo`) first")
    try:
        con = duckdb.connect(str(file), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        raise WarehouseError(f"the warehouse {file} is locked by a writer (a pipeline run?); try again when it "
                             f"ends ({str(exc).splitlines()[0]})") from exc
    yield from _in_utc(con)


@contextmanager
def writer(path: Path | None = None) -> Iterator:
    """The DuckDB file's one writer (the extract): open, write, close, so readers get their turn."""
    import duckdb

    file = duckdb_path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    yield from _in_utc(duckdb.connect(str(file)))


def _in_utc(con) -> Iterator:
    """Hand out a DuckDB connection with timestamps in UTC, and close it afterwards."""
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


@contextmanager
def postgres_reader() -> Iterator:
    """A psycopg cursor in a READ ONLY transaction as the admin role, timestamps in UTC."""
    from crm.db.engine import admin_engine

    with admin_engine().connect() as conn, conn.begin():
        conn.exec_driver_sql("set transaction read only")
        conn.exec_driver_sql("set local timezone = 'UTC'")
        with conn.connection.driver_connection.cursor() as cur:
            yield cur


# --- reads -------------------------------------------------------------------------------------------


def _pg_sql(sql: str, params: Sequence) -> str:
    return sql.replace("%", "%%").replace("?", "%s") if params else sql


def _pg_column(values: Sequence, arrow_type: pa.DataType) -> pa.Array:
    if arrow_type == pa.float64():  # numeric arrives as Decimal
        return pa.array([None if v is None else float(v) for v in values], type=arrow_type)
    if arrow_type in PG_ARROW.values():
        return pa.array(values, type=arrow_type)
    # text, uuid, json and anything else: as text
    return pa.array([None if v is None else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
                     for v in values], type=pa.string())


def _postgres_arrow(sql: str, params: Sequence) -> pa.Table:
    import psycopg

    with postgres_reader() as cur:
        cur.execute(_pg_sql(sql, params), list(params) or None)
        names = [c.name for c in cur.description]
        types = [psycopg.adapters.types.get(c.type_code) for c in cur.description]
        rows = cur.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [_pg_column(values, PG_ARROW.get(t.name if t else "", pa.string()))
              for values, t in zip(columns, types, strict=True)]
    return pa.table(arrays, names=names)


def _uniform(table: pa.Table) -> pa.Table:
    """DuckDB's Arrow as the postgres side gives it: decimals (and hugeints) as float64."""
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, pc.cast(table.column(i), pa.float64()))
    return table


def query(sql: str, params: Sequence = (), *, kind: str | None = None, path: Path | None = None) -> pa.Table:
    """Rows of `sql` (with `?` placeholders bound to `params`) as an Arrow table, on the target."""
    if target(kind, path) == "postgres":
        return _postgres_arrow(sql, params)
    with duckdb_reader(path) as con:
        return _uniform(con.sql(sql, params=list(params) or None).to_arrow_table())


def query_df(sql: str, params: Sequence = (), *, kind: str | None = None, path: Path | None = None):
    """Rows of `sql` as pandas, with DuckDB's `.df()` dtypes on both targets (numbers as floats, dates as
    datetime64, timestamps naive UTC on postgres), so a notebook runs unchanged on either."""
    if target(kind, path) == "duckdb":
        with duckdb_reader(path) as con:
            return con.execute(sql, list(params)).df()
    frame = _postgres_arrow(sql, params).to_pandas(date_as_object=False)
    for name in frame.columns:
        if getattr(frame[name].dtype, "tz", None) is not None:
            frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def mart_columns(name: str, *, kind: str | None = None, path: Path | None = None) -> dict[str, str]:
    """{column: type} of one mart, in table order; WarehouseError when there is no such mart."""
    mart_table(name, kind, path)  # validates the name
    schema = MARTS_SCHEMA[target(kind, path)]
    cols = query("select column_name, data_type from information_schema.columns where table_schema = ? "
                 "and table_name = ? order by ordinal_position", [schema, name], kind=kind, path=path)
    if not cols.num_rows:
        known = ", ".join(list_marts(kind=kind, path=path)) or "none yet: run `crm pipeline run`"
        raise WarehouseError(f"no mart named {name!r} in {schema} (marts: {known})")
    return dict(zip(cols.column("column_name").to_pylist(), cols.column("data_type").to_pylist(), strict=True))


def list_marts(*, kind: str | None = None, path: Path | None = None) -> list[str]:
    schema = MARTS_SCHEMA[target(kind, path)]
    found = query("select distinct table_name from information_schema.tables where table_schema = ? "
                  "order by table_name", [schema], kind=kind, path=path)
    return found.column("table_name").to_pylist()


def mart_select(name: str, tenant_id: object = None, columns: Sequence[str] | None = None, *,
                kind: str | None = None, path: Path | None = None) -> tuple[str, list]:
    """The SQL (and its parameters) reading mart `name`, its `columns` (default all), one tenant or all."""
    tid = None if tenant_id is None else tenant_uuid(tenant_id)
    types = mart_columns(name, kind=kind, path=path)
    wanted = list(columns) if columns else list(types)
    unknown = [c for c in wanted if c not in types]
    if unknown:
        raise WarehouseError(f"mart {name!r} has no column(s) {', '.join(map(repr, unknown))} "
                             f"(it has: {', '.join(types)})")
    select = ", ".join(f'cast("{c}" as varchar) as "{c}"' if types[c].upper() == "UUID" else f'"{c}"'
                       for c in wanted)
    sql = f"select {select} from {mart_table(name, kind, path)}"
    if tid is None:
        return sql, []
    if "tenant_id" not in types:
        raise WarehouseError(f"mart {name!r} has no tenant_id column, so it cannot be read for one tenant")
    return f"{sql} where cast(tenant_id as varchar) = ?", [tid]


def read_mart(name: str, tenant_id: object = None, columns: Sequence[str] | None = None, *,
              kind: str | None = None, path: Path | None = None) -> pa.Table:
    """Mart `name` as Arrow: one tenant's rows (bound parameter) or, with no tenant, every tenant's."""
    sql, params = mart_select(name, tenant_id, columns, kind=kind, path=path)
    return query(sql, params, kind=kind, path=path)


def read_latest_snapshot(name: str, *, kind: str | None = None, path: Path | None = None) -> pa.Table:
    """Each tenant's newest `as_of_date` rows of a feature mart (what batch scoring scores)."""
    table = mart_table(name, kind, path)
    return query(f"select * from {table} f where as_of_date = "
                 f"(select max(as_of_date) from {table} g where g.tenant_id = f.tenant_id)", kind=kind, path=path)

"""crm.warehouse: one door, two targets. The same read gives the same Arrow types and rows on the DuckDB
file and on the dbt postgres target, a tenant is always a bound parameter, and the target is chosen in
one place (CRM_WAREHOUSE), an explicit DuckDB file aside."""

from __future__ import annotations

import datetime as dt
import uuid

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import text

from crm import warehouse
from crm.db.engine import admin_engine
from crm.settings import get_settings

COLUMNS = ("tenant_id uuid, contact_id uuid, as_of_date date, n integer, amount decimal(12, 2), "
           "closed_at timestamptz, label varchar, is_hot boolean, empty_count integer")


def _rows(a: str, b: str) -> list[tuple]:
    c1, c2, c3 = (str(uuid.uuid4()) for _ in range(3))
    at = dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC)
    return [(a, c1, dt.date(2026, 1, 31), 1, 10.5, at, "x", True, None),
            (a, c1, dt.date(2026, 2, 28), 2, None, None, None, False, None),
            (a, c2, dt.date(2026, 2, 28), 3, 7.25, at, "y", None, None),
            (b, c3, dt.date(2026, 1, 31), 99, 1.0, at, "z", True, None)]


@pytest.fixture
def both_targets(tmp_path, tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    name = f"door_probe_{uuid.uuid4().hex[:8]}"
    rows = _rows(a, b)
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.{name} ({COLUMNS})")
        con.executemany(f"insert into marts.{name} values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    with admin_engine().begin() as conn:
        conn.execute(text("create schema if not exists warehouse_marts"))
        conn.execute(text(f"create table warehouse_marts.{name} ({COLUMNS})"))
        for r in rows:
            conn.execute(text(f"insert into warehouse_marts.{name} values (:a, :b, :c, :d, :e, :f, :g, :h, :i)"),
                         dict(zip("abcdefghi", r, strict=True)))
    yield {"name": name, "path": path, "a": a, "b": b}
    with admin_engine().begin() as conn:
        conn.execute(text(f"drop table warehouse_marts.{name}"))


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("as_of_date", "ascending"), ("n", "ascending")])


def test_one_read_gives_the_same_types_and_rows_on_both_targets(both_targets):
    name, path, a = both_targets["name"], both_targets["path"], both_targets["a"]
    duck = _sorted(warehouse.read_mart(name, a, path=path))
    pg = _sorted(warehouse.read_mart(name, a, kind="postgres"))
    assert duck.schema == pg.schema
    assert dict(zip(duck.schema.names, duck.schema.types, strict=True)) == {
        "tenant_id": pa.string(), "contact_id": pa.string(), "as_of_date": pa.date32(), "n": pa.int32(),
        "amount": pa.float64(), "closed_at": pa.timestamp("us", "UTC"), "label": pa.string(),
        "is_hot": pa.bool_(), "empty_count": pa.int32()}  # a column of nulls keeps its type
    assert duck.to_pylist() == pg.to_pylist()
    assert [r["n"] for r in duck.to_pylist()] == [1, 2, 3] and set(duck.column("tenant_id").to_pylist()) == {a}


def test_newest_snapshot_per_tenant_on_both_targets(both_targets):
    name, path = both_targets["name"], both_targets["path"]
    for table in (warehouse.read_latest_snapshot(name, path=path),
                  warehouse.read_latest_snapshot(name, kind="postgres")):
        got = sorted((r["tenant_id"], str(r["as_of_date"]), r["n"]) for r in table.to_pylist())
        assert got == sorted([(both_targets["a"], "2026-02-28", 2), (both_targets["a"], "2026-02-28", 3),
                              (both_targets["b"], "2026-01-31", 99)])


@pytest.mark.parametrize("bad", ["x' or '1'='1", "", 42, None])
def test_a_tenant_is_a_uuid_bound_as_a_parameter(both_targets, bad):
    name = both_targets["name"]
    if bad is None:  # no tenant named: every tenant (the platform jobs' read), never a guessed one
        assert warehouse.read_mart(name, kind="postgres").num_rows == 4
        return
    for kind, path in (("duckdb", both_targets["path"]), ("postgres", None)):
        with pytest.raises(ValueError, match="UUID"):
            warehouse.read_mart(name, bad, kind=kind, path=path)
    with pytest.raises(ValueError, match="identifier"):
        warehouse.read_mart(f"{name}; drop table scores", both_targets["a"], kind="postgres")


def test_the_target_is_chosen_in_one_place(monkeypatch, tmp_path):
    assert warehouse.target() == get_settings().crm_warehouse == "duckdb"
    assert warehouse.target(path=tmp_path / "x.duckdb") == "duckdb"  # an explicit file is a DuckDB file
    with pytest.raises(ValueError, match="DuckDB file"):
        warehouse.target("postgres", tmp_path / "x.duckdb")
    with pytest.raises(ValueError, match="duckdb, postgres"):
        warehouse.target("sqlite")
    monkeypatch.setenv("CRM_WAREHOUSE", "postgres")
    get_settings.cache_clear()
    try:
        assert warehouse.target() == "postgres" and not warehouse.has_extract()
        assert warehouse.mart_table("kpis") == 'warehouse_marts."kpis"'
        assert warehouse.describe() == "postgres:warehouse_marts"
    finally:
        monkeypatch.delenv("CRM_WAREHOUSE")
        get_settings.cache_clear()
    assert warehouse.has_extract() and warehouse.mart_table("kpis") == 'marts."kpis"'


def test_missing_duckdb_file_is_a_clear_error(tmp_path):
    with pytest.raises(warehouse.WarehouseError, match="no warehouse at"):
        warehouse.query("select 1", path=tmp_path / "absent.duckdb")
    assert not (tmp_path / "absent.duckdb").exists()  # a reader never creates the file

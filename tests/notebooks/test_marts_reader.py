"""crm.marts: one tenant per read, validated as a UUID, on DuckDB (read-only) and the PostgreSQL target."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import duckdb
import pandas as pd
import pytest
from sqlalchemy import text

from crm import marts
from crm.db.engine import admin_engine
from crm.marts import MartError, read_mart, tenant_uuid

# Fixed ids: pytest-xdist workers must collect identical parametrize ids.
A, B = "5d3c2a10-6f1e-4c1b-9a57-0b8e4f1d2c3a", "8a1f0e2d-3b4c-4d5e-8f60-7a8b9c0d1e2f"


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.deals (tenant_id uuid, deal_id uuid, amount double, deal_status varchar)")
        con.execute("create table marts.kpis (tenant_id uuid, win_rate_90d double)")
        con.execute("create table marts.no_tenant (x int)")
        for tenant, n in ((A, 3), (B, 5)):
            for i in range(n):
                con.execute("insert into marts.deals values (?, ?, ?, 'won')", [tenant, str(uuid.uuid4()), i * 10.0])
            con.execute("insert into marts.kpis values (?, 0.5)", [tenant])
    return path


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "1 or 1=1", f"{A}' or '1'='1", 42, None, [A]])
def test_non_uuid_tenant_is_refused_before_any_query(bad, warehouse):
    with pytest.raises(ValueError, match="UUID"):
        read_mart("deals", bad, warehouse=warehouse)


def test_tenant_uuid_canonicalises():
    assert tenant_uuid(A.upper()) == A and tenant_uuid(uuid.UUID(A)) == A and tenant_uuid(f" {A} ") == A


def test_each_tenant_sees_only_its_rows(warehouse):
    a, b = read_mart("deals", A, warehouse=warehouse), read_mart("deals", B.upper(), warehouse=warehouse)
    assert len(a) == 3 and set(a["tenant_id"]) == {A}
    assert len(b) == 5 and set(b["tenant_id"]) == {B}
    assert read_mart("deals", str(uuid.uuid4()), warehouse=warehouse).empty
    assert set(a["deal_id"]).isdisjoint(b["deal_id"])


def test_columns_and_names_are_checked(warehouse):
    out = read_mart("deals", A, ["deal_id", "amount"], warehouse=warehouse)
    assert list(out.columns) == ["deal_id", "amount"] and isinstance(out["deal_id"].iloc[0], str)
    with pytest.raises(MartError, match="no column"):
        read_mart("deals", A, ["amount", "tenant_id; drop table marts.deals"], warehouse=warehouse)
    with pytest.raises(ValueError, match="identifier"):
        read_mart("deals; drop table marts.kpis", A, warehouse=warehouse)
    with pytest.raises(MartError, match="no mart named 'missing'"):
        read_mart("missing", A, warehouse=warehouse)
    with pytest.raises(MartError, match="no tenant_id"):
        read_mart("no_tenant", A, warehouse=warehouse)
    with pytest.raises(MartError, match="no warehouse"):
        read_mart("deals", A, warehouse=warehouse.parent / "absent.duckdb")


def test_a_writer_holding_the_warehouse_gets_a_clear_error_and_reads_never_write(warehouse):
    # Another process holding the write lock (a pipeline run): the reader says so instead of a raw IOException.
    code = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); sys.stdin.read()"
    writer = subprocess.Popen([sys.executable, "-c", code, str(warehouse)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        with pytest.raises(MartError, match="locked by a writer"):
            read_mart("deals", A, warehouse=warehouse)
    finally:
        writer.communicate("", timeout=30)
    before = warehouse.stat().st_mtime_ns
    assert len(read_mart("deals", A, warehouse=warehouse)) == 3
    assert warehouse.stat().st_mtime_ns == before


def test_default_tenant_prefers_demo_credentials(warehouse):
    assert marts.tenants_in_marts(warehouse=warehouse) == sorted([A, B])
    from crm.settings import get_settings

    creds = get_settings().home / "demo_credentials.json"
    before = creds.read_text() if creds.exists() else None
    try:
        creds.write_text(json.dumps({"tenants": [{"tenant_id": str(uuid.uuid4())}, {"tenant_id": B}]}))
        assert marts.default_tenant_id(warehouse=warehouse) == B  # the first demo tenant that is in the marts
    finally:
        creds.unlink() if before is None else creds.write_text(before)


def test_postgres_target_reads_one_tenant_in_a_read_only_transaction(tenant, other_tenant):
    table = f"nb_probe_{uuid.uuid4().hex[:8]}"
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    with admin_engine().begin() as conn:
        conn.execute(text("create schema if not exists warehouse_marts"))
        conn.execute(text(f"create table warehouse_marts.{table} (tenant_id uuid, amount double precision, "
                          "won numeric(12, 2), as_of_date date, closed_at timestamptz)"))
        conn.execute(text(f"insert into warehouse_marts.{table} values "
                          "(:a, 1, 10.5, '2026-01-31', '2026-02-01 10:00+02'), (:a, 2, null, null, null), "
                          "(:b, 99, 1, '2026-01-31', null)"), {"a": a, "b": b})
    try:
        out = read_mart(table, a, backend="postgres").sort_values("amount")
        assert out["amount"].tolist() == [1, 2] and set(out["tenant_id"]) == {a}
        # The same dtypes as DuckDB's: floats, naive UTC datetimes, so notebooks run on either target.
        assert out["won"].dtype == float and out["won"].iloc[0] == 10.5
        assert out["as_of_date"].iloc[0] == pd.Timestamp("2026-01-31")
        assert out["closed_at"].iloc[0] == pd.Timestamp("2026-02-01 08:00") and out["closed_at"].dt.tz is None
        assert read_mart(table, b, ["amount"], backend="postgres")["amount"].tolist() == [99]
        with pytest.raises(ValueError, match="UUID"):
            read_mart(table, "x' or 'a'='a", backend="postgres")
        with pytest.raises(MartError, match="no mart"):
            read_mart("absent_mart", a, backend="postgres")
    finally:
        with admin_engine().begin() as conn:
            conn.execute(text(f"drop table warehouse_marts.{table}"))


def test_score_history_is_read_per_tenant_under_rls(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    rows = [(a, "2026-01-01", 40), (a, "2026-02-01", 55), (a, "2026-03-01", 60), (b, "2026-03-01", 90)]
    with admin_engine().begin() as conn:
        for t, at, score in rows:
            conn.execute(text("insert into score_history (tenant_id, entity_type, entity_id, score, probability, "
                              "tier, model_name, model_version, scored_at) values (:t, 'lead', :e, :s, :p, 'B', "
                              "'lead_score', '1', :at)"),
                         {"t": t, "e": str(uuid.uuid4()), "s": score, "p": score / 100, "at": at})
    mine = marts.read_score_history(a)
    assert mine["score"].tolist() == [40, 55, 60] and mine["tier"].eq("B").all()
    assert marts.read_score_history(a, runs=2)["score"].tolist() == [55, 60]
    assert marts.read_score_history(b)["score"].tolist() == [90]
    assert marts.read_score_history(a, entity_type="account").empty
    with pytest.raises(ValueError):
        marts.read_score_history("nope")

"""One row the warehouse cannot take never stops the extract for every agency (the finding: a 1 BC
activity made `Could not convert string "0001-12-31 23:00:00+00 BC"` fail raw/<table> for all tenants).

The CHECK constraints of migration 0005 keep such rows out today; an older install (or a constraint
lifted by hand) may still hold one, so each test lifts the constraint, plants the row as admin, and puts
the constraint back.
"""

from __future__ import annotations

import duckdb

from crm.ingest.extract import extract
from tests.db_support import admin_exec, check_lifted
from tests.pipelines.factory import seed_activity_tenant, seed_contractual_tenant

FINDING = "0001-01-01T00:00:00+01:00"


def _raw(wh, sql: str, *params):
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_a_row_out_of_range_is_quarantined_and_every_other_row_and_tenant_extracts(tenant, other_tenant, tmp_path):
    bad_tenant, good_tenant = tenant["tenant_id"], other_tenant["tenant_id"]
    bad_ids = seed_contractual_tenant(bad_tenant)
    good_ids = seed_activity_tenant(good_tenant)
    wh = tmp_path / "warehouse.duckdb"
    with check_lifted("activities", "activities_occurred_at_check"):
        bad = admin_exec("insert into activities (tenant_id, type, occurred_at, company_id) "
                         "values (:t, 'call', :at, :c) returning id::text", t=bad_tenant, at=FINDING, c=bad_ids["C1"])
        also_bad = admin_exec("insert into activities (tenant_id, type, occurred_at, company_id) "
                              "values (:t, 'call', 'infinity', :c) returning id::text", t=bad_tenant, c=bad_ids["C1"])
        result = extract(wh)

        assert result.quarantined["activities"] == 2
        held = _raw(wh, "select record_key, tenant_id::varchar, reason from raw._quarantine "
                        "where table_name = 'activities' order by reason")
        assert {h[0] for h in held} == {bad, also_bad}
        assert {h[1] for h in held} == {bad_tenant}
        assert all("occurred_at" in h[2] and "supported range" in h[2] for h in held), held
        assert _raw(wh, "select count(*) from raw.activities where id in (?, ?)", bad, also_bad) == [(0,)]
        # every other row of both tenants is in the warehouse
        for t in (bad_tenant, good_tenant):
            fitting = admin_exec("select count(*) from activities where tenant_id = :t "
                                 "and occurred_at between '1900-01-01Z' and '2099-12-31Z'", t=t)
            assert fitting >= 3
            assert _raw(wh, "select count(*) from raw.activities where tenant_id = ?", t) == [(fitting,)]
        assert _raw(wh, "select count(*) from raw.companies where id = ?", good_ids["D1"]) == [(1,)]
        assert _raw(wh, "select count(*) from raw.contacts where tenant_id = ?", bad_tenant)[0][0] >= 3

        # a second run holds the same rows (no duplicates), and fixing a row brings it in
        assert extract(wh).quarantined["activities"] == 2
        admin_exec("update activities set occurred_at = '2025-06-01T00:00:00Z' where id = :i", i=bad)
        admin_exec("delete from activities where id = :i", i=also_bad)
        after = extract(wh)
        assert after.quarantined["activities"] == 0
        assert _raw(wh, "select count(*) from raw._quarantine") == [(0,)]
        assert _raw(wh, "select count(*) from raw.activities where id = ?", bad) == [(1,)]


def test_a_date_column_out_of_range_is_held_too(tenant, tmp_path):
    ids = seed_contractual_tenant(tenant["tenant_id"])
    wh = tmp_path / "warehouse.duckdb"
    with check_lifted("companies", "companies_customer_since_check"):
        admin_exec("update companies set customer_since = '0001-01-01 BC' where id = :i", i=ids["C2"])
        result = extract(wh)
        admin_exec("update companies set customer_since = '2025-02-10' where id = :i", i=ids["C2"])
    assert result.quarantined["companies"] == 1
    assert _raw(wh, "select record_key, reason from raw._quarantine")[0][0] == ids["C2"]
    assert "customer_since" in _raw(wh, "select reason from raw._quarantine")[0][0]
    assert _raw(wh, "select count(*) from raw.companies where id = ?", ids["C1"]) == [(1,)]


def test_a_value_duckdb_cannot_read_holds_back_its_row_only(tmp_path):
    """The second line of defence, for values PostgreSQL does not flag: DuckDB's own conversion."""
    from crm.ingest.quarantine import ensure_quarantine, split_batch
    from crm.ingest.tables import SourceTable

    table = SourceTable("probe")
    cols = [("id", "UUID"), ("tenant_id", "UUID"), ("amount", "DECIMAL(14,2)"), ("seen_at", "TIMESTAMPTZ")]
    good, bad, tenant_id = "8f0c6c1e-0000-4000-8000-000000000001", "8f0c6c1e-0000-4000-8000-000000000002", \
        "8f0c6c1e-0000-4000-8000-0000000000aa"
    csv_path = tmp_path / "probe.csv"
    csv_path.write_text("id,tenant_id,amount,seen_at,_held_reason,_held_record\n"
                        f"{good},{tenant_id},12.50,2025-01-01 10:00:00+00,,\n"
                        f"{bad},{tenant_id},twelve,2025-01-01 10:00:00+00,,\n")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.probe (id uuid primary key, tenant_id uuid, amount decimal(14,2), "
                "seen_at timestamptz)")
    ensure_quarantine(con)
    assert split_batch(con, table, cols, csv_path) == 1
    assert [str(r[0]) for r in con.execute("select id from _batch").fetchall()] == [good]
    held = con.execute("select record_key, cast(tenant_id as varchar), reason from raw._quarantine").fetchall()
    assert held == [(bad, tenant_id, "amount: twelve cannot be read as DECIMAL(14,2)")]
    con.close()

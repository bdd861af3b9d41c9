"""Incremental extract: idempotent, carries updates and deletes, survives a hard kill mid-run,
and does not lose a row committed late by a long transaction."""

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import duckdb
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.ingest.extract import extract
from tests.pipelines.factory import at, insert, seed_contractual_tenant


def snapshot(path, tenant_id):
    """Every raw row of the tenant plus the watermarks: what 'unchanged' means for the warehouse."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        listed = con.execute("select table_name from information_schema.tables where table_schema = 'raw' "
                             "and table_name not like '\\_%' escape '\\'").fetchall()
        tables = [r[0] for r in listed]
        snap = {}
        for t in sorted(tables):
            where = "id = ?" if t == "tenants" else "tenant_id = ?"
            rows = con.execute(f'select * from raw."{t}" where {where}', [tenant_id]).fetchall()
            snap[t] = sorted(map(str, rows))
        snap["_watermarks"] = con.execute("select table_name, high_watermark from raw._watermarks "
                                          "order by table_name").fetchall()
        return snap
    finally:
        con.close()


def test_extract_is_idempotent_and_carries_updates_and_deletes(tenant, tmp_path):
    ids = seed_contractual_tenant(tenant["tenant_id"])
    wh = tmp_path / "warehouse.duckdb"
    first = extract(wh)
    assert first.upserted["contacts"] >= 4 and first.upserted["activities"] >= 6
    before = snapshot(wh, tenant["tenant_id"])
    extract(wh)
    assert snapshot(wh, tenant["tenant_id"]) == before  # running twice changes nothing

    with tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("update contacts set title = 'Head of Growth' where id = :i"), {"i": ids["L2"]})
        s.execute(text("delete from notes where id = :i"), {"i": ids["note_neg"]})
    result = extract(wh)
    assert result.deleted["notes"] == 1
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select title from raw.contacts where id = ?", [ids["L2"]]).fetchone() == ("Head of Growth",)
    assert con.execute("select count(*) from raw.notes where id = ?", [ids["note_neg"]]).fetchone() == (0,)
    cols = [r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = 'raw' and table_name = 'users'").fetchall()]
    con.close()
    assert "password_hash" not in cols  # secrets never leave PostgreSQL


CRASH = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import crm.ingest.extract as ex
    real = ex._load_table
    def dying(con, pg, table, since, tmp):
        out = real(con, pg, table, since, tmp)
        if table.name == "activities":  # several tables already written inside the open transaction
            os._exit(9)
        return out
    ex._load_table = dying
    ex.extract(Path(sys.argv[1]))
""")


def test_a_run_killed_half_way_leaves_the_warehouse_as_before_and_the_next_run_catches_up(tenant, tmp_path):
    ids = seed_contractual_tenant(tenant["tenant_id"])
    wh = tmp_path / "warehouse.duckdb"
    extract(wh)
    before = snapshot(wh, tenant["tenant_id"])
    with tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("update contacts set title = 'CMO' where id = :i"), {"i": ids["L1"]})
        new_activity = insert(s, "activities", type="meeting", occurred_at=at("2025-12-01 10:00"),
                              contact_id=ids["L1"], body="Kick-off went well")
        s.execute(text("delete from notes where id = :i"), {"i": ids["note_pos"]})

    proc = subprocess.run([sys.executable, "-c", CRASH, str(wh)], env=os.environ.copy(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr[-2000:]
    assert snapshot(wh, tenant["tenant_id"]) == before  # nothing of the dead run is visible

    extract(wh)
    after = snapshot(wh, tenant["tenant_id"])
    assert after != before
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select title from raw.contacts where id = ?", [ids["L1"]]).fetchone() == ("CMO",)
    assert con.execute("select count(*) from raw.activities where id = ?", [new_activity]).fetchone() == (1,)
    assert con.execute("select count(*) from raw.notes where id = ?", [ids["note_pos"]]).fetchone() == (0,)
    con.close()


def test_a_row_committed_after_the_snapshot_by_an_older_transaction_is_not_lost(tenant, tmp_path):
    seed_contractual_tenant(tenant["tenant_id"])
    wh = tmp_path / "warehouse.duckdb"
    extract(wh, lookback=timedelta(0))
    with tenant_session(tenant["tenant_id"]) as slow:  # its rows carry updated_at = this transaction's start
        late = insert(slow, "activities", type="call", occurred_at=at("2025-12-02 10:00"), body="Slow transaction")
        with tenant_session(tenant["tenant_id"]) as quick:  # a newer row, committed first
            insert(quick, "activities", type="call", occurred_at=at("2025-12-03 10:00"), body="Quick one")
        extract(wh, lookback=timedelta(0))  # sees the quick row, not the uncommitted slow one
    extract(wh, lookback=timedelta(0))  # no overlap: only the watermark cap can bring the slow row in
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select count(*) from raw.activities where id = ?", [late]).fetchone() == (1,)
    con.close()


def test_a_deleted_tenant_leaves_the_warehouse(tmp_path):
    from crm.db.engine import admin_engine
    from tests.conftest import make_tenant

    gone = make_tenant("Leaving")["tenant_id"]
    seed_contractual_tenant(gone)
    wh = tmp_path / "warehouse.duckdb"
    extract(wh)
    assert snapshot(wh, gone)["contacts"]
    with admin_engine().begin() as conn:
        conn.execute(text("delete from tenants where id = :t"), {"t": gone})
    extract(wh)
    snap = snapshot(wh, gone)
    assert not any(rows for name, rows in snap.items() if name != "_watermarks")

"""The database holds the timestamp range itself (migration 0005): the app role cannot store a value
outside it by any path, and rows an older install already holds are moved to quarantine, not lost."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm.db.engine import tenant_session
from tests.db_support import admin_exec, check_lifted
from tests.pipelines.factory import insert

FINDING = "0001-01-01T00:00:00+01:00"

# (table, column, a value outside the range, columns a row needs besides it)
BOUNDED = [
    ("activities", "occurred_at", FINDING, {"type": "call"}),
    ("activities", "occurred_at", "infinity", {"type": "call"}),
    ("notes", "occurred_at", "2100-01-01T00:00:00Z", {"body": "n"}),
    ("tasks", "due_at", "1899-12-31T23:59:59Z", {"title": "t"}),
    ("companies", "customer_since", "0001-01-01", {"name": "c"}),
    ("campaigns", "starts_on", "2100-01-01", {"name": "c", "channel": "email"}),
    ("campaigns", "ends_on", "-infinity", {"name": "c", "channel": "email"}),
]


@pytest.mark.parametrize(("table", "column", "value", "others"), BOUNDED)
def test_the_app_role_cannot_store_a_value_outside_the_range(tenant, table, column, value, others):
    with pytest.raises(IntegrityError, match=f"{table}_{column}_check"), tenant_session(tenant["tenant_id"]) as s:
        insert(s, table, **others, **{column: value})


def test_a_deal_close_date_outside_the_range_is_refused_on_update(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        pipeline = insert(s, "pipelines", name="Sales")
        stage = insert(s, "pipeline_stages", pipeline_id=pipeline, name="Open", position=0)
        deal = insert(s, "deals", name="d", pipeline_id=pipeline, stage_id=stage,
                      expected_close_date=date(2099, 12, 31))
    with pytest.raises(IntegrityError, match="deals_expected_close_date_check"), \
            tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("update deals set expected_close_date = '0001-01-01 BC' where id = :i"), {"i": deal})


def _quarantined(tenant_id: str) -> list:
    with tenant_session(tenant_id) as s:
        return s.execute(text("select table_name, record_id::text, action, record, reason from quarantined_records "
                              "order by table_name")).all()


def test_rows_already_outside_are_moved_to_quarantine_not_lost(tenant, other_tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        company = insert(s, "companies", name="Kept Ltd")
        good = insert(s, "activities", type="call", occurred_at="2026-01-01T00:00:00Z", company_id=company)
        pipeline = insert(s, "pipelines", name="Sales")
        stage = insert(s, "pipeline_stages", pipeline_id=pipeline, name="Open", position=0)
        deal = insert(s, "deals", name="Far", pipeline_id=pipeline, stage_id=stage, company_id=company)
        history = insert(s, "deal_stage_history", deal_id=deal, to_stage_id=stage)
    with check_lifted("activities", "activities_occurred_at_check"), \
            check_lifted("deals", "deals_expected_close_date_check"):
        bad = admin_exec("insert into activities (tenant_id, type, occurred_at, company_id, body) "
                         "values (:t, 'call', :at, :c, 'from an old install') returning id::text",
                         t=t, at=FINDING, c=company)
        admin_exec("update deals set expected_close_date = '0001-01-01' where id = :d", d=deal)
        moved = admin_exec("select quarantine_out_of_range()")
        assert moved == 2
        assert admin_exec("select quarantine_out_of_range()") == 0  # nothing left: the move is idempotent

    with tenant_session(t) as s:
        assert s.execute(text("select id::text from activities")).scalars().all() == [good]
        # a deal is kept (its history and references with it); only the bad date is cleared
        assert s.execute(text("select expected_close_date from deals where id = :d"), {"d": deal}).scalar_one() is None
        assert s.execute(text("select count(*) from deal_stage_history where id = :h"), {"h": history}).scalar() == 1
        tombstoned = s.execute(text("select record_id::text from deleted_records where table_name = 'activities'"))
        assert tombstoned.scalars().all() == [bad]  # the warehouse drops it too
    rows = _quarantined(t)
    assert [(r.table_name, r.record_id, r.action) for r in rows] == [("activities", bad, "moved"),
                                                                     ("deals", deal, "cleared")]
    activity, deal_row = rows[0], rows[1]
    assert activity.record["body"] == "from an old install" and "BC" in activity.record["occurred_at"]
    assert "occurred_at" in activity.reason and "supported range" in activity.reason
    assert deal_row.record["expected_close_date"].startswith("0001-01-01") and "expected_close_date" in deal_row.reason
    assert json.dumps(activity.record)  # the whole row, readable
    assert _quarantined(other_tenant["tenant_id"]) == []  # RLS: each tenant sees its own quarantine only


def test_the_app_role_cannot_run_the_move_nor_write_the_quarantine(tenant):
    with pytest.raises(Exception, match="permission denied"), tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("select quarantine_out_of_range()"))
    with pytest.raises(Exception, match="permission denied"), tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("insert into quarantined_records (tenant_id, table_name, record_id, action, record, reason) "
                       "values (app_tenant_id(), 'activities', gen_random_uuid(), 'moved', '{}', 'x')"))

"""load_demo against the real PostgreSQL: rows land under RLS per tenant, nothing leaks, reruns skip,
credentials work, and the ground-truth files point at rows that exist."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import psycopg
import pytest
from sqlalchemy import text

from app.demo import DemoSpec, load_demo
from app.demo.generate import TABLES
from crm.db.engine import admin_engine, app_url, psycopg_conninfo, tenant_session
from crm.settings import get_settings
from crm.tenancy import authenticate_api_key, authenticate_user

SPEC = DemoSpec(tenants=2, contacts=300, name="load-test")
END = date(2026, 3, 31)


@pytest.fixture(scope="module")
def demo():
    return load_demo(spec=SPEC, seed=3, end_date=END)


def _count(tenant_id: str, table: str, where: str = "true") -> int:
    with tenant_session(tenant_id) as s:
        return s.execute(text(f"select count(*) from {table} where {where}")).scalar_one()


def test_two_agencies_with_both_churn_modes_and_working_credentials(demo):
    assert [t.churn_mode for t in demo.tenants] == ["contractual", "activity"]
    for t in demo.tenants:
        assert not t.skipped and t.rows["activities"] > 1000
        key = authenticate_api_key(t.api_key)
        assert key is not None and str(key.tenant_id) == t.tenant_id and key.role == "admin"
        staff = next(u for u in t.users if u["role"] == "member")
        user = authenticate_user(staff["email"], staff["password"])
        assert user is not None and str(user.tenant_id) == t.tenant_id
    saved = json.loads(demo.credentials_path.read_text())
    assert {t["api_key"] for t in saved["tenants"]} >= {t.api_key for t in demo.tenants}


def test_every_row_landed_in_its_own_tenant(demo):
    with admin_engine().connect() as c:
        for t in demo.tenants:
            for table in TABLES:
                n = c.execute(text(f"select count(*) from {table} where tenant_id = :t"), {"t": t.tenant_id}).scalar()
                expected = t.rows[table] + (1 if table == "users" else 0)  # + the admin from create_tenant
                assert n == expected, (table, n, expected)


def test_a_tenant_sees_none_of_the_other_tenants_rows(demo):
    a, b = demo.tenants
    for table in TABLES:
        assert _count(a.tenant_id, table, f"tenant_id <> '{a.tenant_id}'") == 0
        assert _count(a.tenant_id, table) == a.rows[table] + (1 if table == "users" else 0)
    with admin_engine().connect() as c:
        b_contact = c.execute(text("select id from contacts where tenant_id = :t limit 1"), {"t": b.tenant_id}).scalar()
    assert _count(a.tenant_id, "contacts", f"id = '{b_contact}'") == 0
    # and the app role cannot write a row into the other tenant while acting for this one
    with psycopg.connect(psycopg_conninfo(app_url())) as conn, conn.cursor() as cur:
        cur.execute("select set_config('app.tenant_id', %s, true)", [a.tenant_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cur.execute("insert into notes (tenant_id, body) values (%s, 'leak')", [b.tenant_id])


def test_history_timestamps_are_from_the_story_not_the_load(demo):
    t = demo.tenants[0]
    with tenant_session(t.tenant_id) as s:
        first, last = s.execute(text("select min(occurred_at)::date, max(occurred_at)::date from activities")).one()
        created = s.execute(text("select min(created_at)::date from contacts")).scalar_one()
        won = s.execute(text("select count(*) from deals where status = 'won' and closed_at < now() - "
                             "interval '30 days'")).scalar_one()
    assert (END - first).days > 700 and last <= END and created < date(2024, 6, 1) and won > 0


def test_rerun_skips_the_existing_agencies(demo):
    again = load_demo(spec=SPEC, seed=3, end_date=END)
    assert [t.tenant_id for t in again.tenants] == [t.tenant_id for t in demo.tenants]
    assert all(t.skipped for t in again.tenants)
    assert authenticate_api_key(again.tenants[0].api_key) is not None
    a = demo.tenants[0]
    assert _count(a.tenant_id, "contacts") == a.rows["contacts"]


def test_each_agency_ships_two_enabled_workflows_once(demo):
    load_demo(spec=SPEC, seed=3, end_date=END)   # a rerun adds no second copy
    for t in demo.tenants:
        with tenant_session(t.tenant_id) as s:
            rows = s.execute(text("select template, enabled from workflows order by template")).all()
            audited = s.execute(text("select count(*) from audit_log where entity_type = 'workflow' "
                                     "and actor_type = 'system' and actor_label = 'demo'")).scalar_one()
        assert [tuple(r) for r in rows] == [("deal_idle_reminder", True), ("tier_a_lead_follow_up", True)]
        assert audited == 2


def test_ground_truth_files_point_at_crm_rows(demo):
    gt = get_settings().ground_truth_dir
    leads, accounts, facts = (pl.read_parquet(gt / f"{n}.parquet") for n in ("leads", "accounts", "facts"))
    for t in demo.tenants:
        with admin_engine().connect() as c:
            contacts = {str(r[0]) for r in c.execute(text("select id from contacts where tenant_id = :t"),
                                                     {"t": t.tenant_id})}
            companies = {str(r[0]) for r in c.execute(text("select id from companies where tenant_id = :t"),
                                                      {"t": t.tenant_id})}
            notes = {str(r[0]) for r in c.execute(text("select id from notes where tenant_id = :t"),
                                                  {"t": t.tenant_id})}
        mine = leads.filter(pl.col("tenant_id") == t.tenant_id)
        assert len(mine) > 0 and set(mine["contact_id"]) <= contacts
        acc = accounts.filter(pl.col("tenant_id") == t.tenant_id)
        assert len(acc) > 0 and set(acc["company_id"]) <= companies and set(acc["churn_mode"]) == {t.churn_mode}
        f = facts.filter((pl.col("tenant_id") == t.tenant_id) & (pl.col("source_type") == "note"))
        assert len(f) > 0 and set(f["source_id"]) <= notes
    assert leads["as_of_date"].max() == END


def test_cli_summary_names_the_logins_keys_and_next_steps(demo, capsys):
    from app.cli.demo import _print_where_to_look

    _print_where_to_look(demo)
    out = capsys.readouterr().err
    for t in demo.tenants:
        assert t.api_key in out and t.admin_email in out
    assert "http://127.0.0.1:8000" in out and "crm pipeline run" in out and "demo-password" in out

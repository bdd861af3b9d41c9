"""Row-level security as the database enforces it, below the API: the app role alone sees nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm.db.engine import APP_ROLE, admin_engine, app_engine, tenant_session
from tests.api.conftest import Api


def _tenant_tables() -> list[str]:
    """Every table with a tenant_id column, in any schema of ours (public, analytics, ...): schema.table."""
    with admin_engine().connect() as conn:
        return list(conn.execute(text(
            "select c.table_schema || '.' || c.table_name from information_schema.columns c "
            "join information_schema.tables t using (table_schema, table_name) "
            "where c.table_schema not in ('pg_catalog', 'information_schema') and c.column_name = 'tenant_id' "
            "and t.table_type = 'BASE TABLE' order by 1")).scalars())


def _fill(client, tenant) -> None:
    api = Api(client, tenant["headers"])
    company = api.company(domain=f"{uuid.uuid4().hex[:6]}.example.com")
    contact = api.contact(f"{uuid.uuid4().hex[:6]}@example.com", company_id=company["id"])
    api.pipeline()
    deal = api.deal(company_id=company["id"], contact_id=contact["id"])
    campaign = api.create("campaigns", {"name": "c", "channel": "email"})
    api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": [contact["id"]]})
    api.create("activities", {"type": "call", "occurred_at": "2026-01-01T00:00:00Z", "contact_id": contact["id"]})
    api.create("notes", {"body": "n", "deal_id": deal["id"]})
    api.create("tasks", {"title": "t"})
    api.delete(f"/tasks/{api.create('tasks', {'title': 'gone'})['id']}")  # leaves a tombstone


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from api.main import app

    return TestClient(app)


@pytest.fixture
def filled(client, tenant):
    _fill(client, tenant)
    return tenant


def test_every_tenant_table_has_forced_rls(filled):
    tables = _tenant_tables()
    assert {f"public.{t}" for t in ("contacts", "companies", "deals", "users", "api_keys", "deleted_records")} \
        <= set(tables)
    with admin_engine().connect() as conn:
        flags = dict(conn.execute(text(
            "select n.nspname || '.' || c.relname, c.relrowsecurity and c.relforcerowsecurity "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r'")).all())
        policies = set(conn.execute(text("select schemaname || '.' || tablename from pg_policies")).scalars())
    for table in tables:
        assert flags[table], f"{table} lacks enabled+forced RLS"
        assert table in policies, f"{table} has no policy"


def test_app_role_without_tenant_sees_zero_rows(filled):
    tables = _tenant_tables()
    with admin_engine().connect() as conn:  # the superuser sees the data is there
        assert conn.execute(text("select count(*) from contacts")).scalar() > 0
        assert conn.execute(text("select count(*) from deleted_records")).scalar() > 0
    with app_engine().connect() as conn:
        assert conn.execute(text("select current_user")).scalar() == APP_ROLE
        assert conn.execute(text("select current_setting('app.tenant_id', true)")).scalar() in (None, "")
        for table in [*tables, "public.tenants"]:
            assert conn.execute(text(f"select count(*) from {table}")).scalar() == 0, table


def test_app_role_with_one_tenant_sees_only_that_tenant(client, filled, other_tenant):
    _fill(client, other_tenant)
    for table in _tenant_tables():
        with tenant_session(filled["tenant_id"]) as s:
            owners = set(s.execute(text(f"select distinct tenant_id::text from {table}")).scalars())
        assert owners <= {filled["tenant_id"]}, table
    with tenant_session(filled["tenant_id"]) as s:
        assert s.execute(text("select count(*) from tenants")).scalar() == 1


def test_tenant_setting_does_not_outlive_its_transaction(filled):
    with tenant_session(filled["tenant_id"]) as s:
        assert s.execute(text("select count(*) from contacts")).scalar() > 0
    # the pool hands the same connection back: the transaction-local setting is gone
    with app_engine().connect() as conn:
        assert conn.execute(text("select count(*) from contacts")).scalar() == 0


def test_app_role_cannot_write_into_another_tenant(filled, other_tenant):
    with pytest.raises(DBAPIError, match="row-level security"), tenant_session(filled["tenant_id"]) as s:
        s.execute(text("insert into companies (tenant_id, name) values (:t, 'planted')"),
                  {"t": other_tenant["tenant_id"]})
    with tenant_session(filled["tenant_id"]) as s:  # moving a row to another tenant is refused too
        with pytest.raises(DBAPIError, match="row-level security"):
            s.execute(text("update companies set tenant_id = :t"), {"t": other_tenant["tenant_id"]})
        s.rollback()
    with app_engine().connect() as conn:
        assert conn.execute(text("update contacts set title = 'x'")).rowcount == 0
        assert conn.execute(text("delete from contacts")).rowcount == 0
        conn.rollback()


def test_app_role_is_powerless_outside_rls(filled):
    with admin_engine().connect() as conn:
        role = conn.execute(text("select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles "
                                 "where rolname = :r"), {"r": APP_ROLE}).one()
        assert tuple(role) == (False, False, False, False)
        owned = conn.execute(text("select count(*) from pg_class c join pg_roles r on r.oid = c.relowner "
                                  "where r.rolname = :r"), {"r": APP_ROLE}).scalar()
        assert owned == 0
    with app_engine().connect() as conn:
        with pytest.raises(DBAPIError):
            conn.execute(text("alter table contacts disable row level security"))
        conn.rollback()
        with pytest.raises(DBAPIError):
            conn.execute(text("set role crm_owner"))
        conn.rollback()

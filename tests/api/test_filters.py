"""List filters: company_id and other equality filters, updated_since, q text search."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.api.conftest import assert_problem


def test_company_id_filter(api):
    acme, globex = api.company(name="Acme"), api.company(name="Globex")
    a1 = api.contact("a1@acme.example.com", company_id=acme["id"])
    a2 = api.contact("a2@acme.example.com", company_id=acme["id"])
    api.contact("g1@globex.example.com", company_id=globex["id"])
    api.contact("loner@example.com")
    rows = api.list_all("contacts", company_id=acme["id"])
    assert {r["id"] for r in rows} == {a1["id"], a2["id"]}
    api.pipeline()
    deal = api.deal(company_id=globex["id"])
    assert [d["id"] for d in api.list_all("deals", company_id=globex["id"])] == [deal["id"]]
    assert api.list_all("deals", company_id=acme["id"]) == []
    assert_problem(api.get("/contacts", params={"company_id": "not-a-uuid"}), 422)


def test_enum_filters(api):
    api.contact("lead@example.com", lifecycle_stage="lead")
    mql = api.contact("mql@example.com", lifecycle_stage="mql")
    assert [r["id"] for r in api.list_all("contacts", lifecycle_stage="mql")] == [mql["id"]]
    api.create("activities", {"type": "call", "occurred_at": "2026-01-01T00:00:00Z"})
    visit = api.create("activities", {"type": "web_visit", "occurred_at": "2026-01-01T00:00:00Z"})
    assert [r["id"] for r in api.list_all("activities", type="web_visit")] == [visit["id"]]
    done = api.create("tasks", {"title": "done", "is_done": True})
    api.create("tasks", {"title": "open"})
    assert [r["id"] for r in api.list_all("tasks", is_done="true")] == [done["id"]]


def test_updated_since(api):
    old = api.contact("old@example.com")
    time.sleep(0.05)
    since = datetime.now(UTC)
    time.sleep(0.05)
    new = api.contact("new@example.com")
    assert [r["id"] for r in api.list_all("contacts", updated_since=since.isoformat())] == [new["id"]]
    api.patch(f"/contacts/{old['id']}", {"title": "CEO"})
    assert {r["id"] for r in api.list_all("contacts", updated_since=since.isoformat())} == {old["id"], new["id"]}
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert api.list_all("contacts", updated_since=future) == []
    assert_problem(api.get("/contacts", params={"updated_since": "yesterday"}), 422)


def test_q_search_is_case_insensitive_and_literal(api):
    ann = api.contact("ann@example.com", first_name="Ann", last_name="O'Hara", title="Head of Growth")
    api.contact("bob@example.com", first_name="Bob", title="Designer")
    api.contact("pct@example.com", first_name="100%")
    assert [r["id"] for r in api.list_all("contacts", q="growth")] == [ann["id"]]
    assert [r["id"] for r in api.list_all("contacts", q="o'hara")] == [ann["id"]]
    assert [r["email"] for r in api.list_all("contacts", q="%")] == ["pct@example.com"]  # % is not a wildcard
    assert api.list_all("contacts", q="_") == []
    assert len(api.list_all("contacts", q="example.com")) == 3
    company = api.company(name="Northwind Traders", domain="northwind.example.com", industry="Food")
    assert [r["id"] for r in api.list_all("companies", q="NORTHWIND")] == [company["id"]]
    assert_problem(api.get("/contacts", params={"q": "x" * 201}), 422)


def test_filters_combine(api):
    acme = api.company(name="Acme")
    hit = api.contact("cfo@acme.example.com", company_id=acme["id"], title="CFO")
    api.contact("cto@acme.example.com", company_id=acme["id"], title="CTO")
    api.contact("cfo@else.example.com", title="CFO")
    assert [r["id"] for r in api.list_all("contacts", company_id=acme["id"], q="cfo")] == [hit["id"]]

"""Create, read, update, list and delete every CRM object through the API, in a fresh tenant."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import assert_problem


def _bodies(api) -> dict[str, tuple[dict, dict]]:
    """(create body, patch body) per resource; referenced rows are created first."""
    company = api.company(domain=f"{uuid.uuid4().hex[:8]}.example.com")
    contact = api.contact(f"{uuid.uuid4().hex[:8]}@example.com", company_id=company["id"])
    pipeline = api.pipeline()
    deal = api.deal(company_id=company["id"], contact_id=contact["id"])
    return {
        "companies": ({"name": "Globex", "domain": "globex.io", "industry": "Retail", "size": "11-50"},
                      {"industry": "E-commerce", "size": "51-200"}),
        "contacts": ({"email": "Ann.Lee@Globex.io", "first_name": "Ann", "last_name": "Lee",
                      "company_id": company["id"], "lifecycle_stage": "mql", "lead_source": "webinar"},
                     {"title": "CMO", "lifecycle_stage": "sql"}),
        "pipelines": ({"name": "Renewals", "stages": [{"name": "Open", "win_probability": 0.3},
                                                      {"name": "Signed", "win_probability": 1, "is_won": True}]},
                      {"name": "Renewals 2027"}),
        "deals": ({"name": "SEO retainer", "pipeline_id": pipeline["id"], "company_id": company["id"],
                   "amount": "12000.50", "currency": "EUR", "expected_close_date": "2027-01-31"},
                  {"amount": "15000.00"}),
        "activities": ({"type": "email_opened", "occurred_at": "2026-10-01T09:30:00Z", "contact_id": contact["id"],
                        "subject": "Q4 plan", "properties": {"campaign": "fall", "opens": 2}},
                       {"subject": "Q4 plan (v2)"}),
        "notes": ({"body": "Loves the new landing page.", "contact_id": contact["id"], "deal_id": deal["id"]},
                  {"body": "Loves the new landing page; wants a quote."}),
        "tasks": ({"title": "Send proposal", "due_at": "2026-12-01T12:00:00Z", "deal_id": deal["id"]},
                  {"is_done": True}),
        "campaigns": ({"name": "Black Friday", "channel": "email", "budget": "2500", "starts_on": "2026-11-20",
                       "ends_on": "2026-11-30"},
                      {"status": "active"}),
    }


RESOURCES = ["companies", "contacts", "pipelines", "deals", "activities", "notes", "tasks", "campaigns"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_crud_round_trip(api, resource):
    create, patch = _bodies(api)[resource]
    created = api.create(resource, create)
    rid = created["id"]
    assert uuid.UUID(rid) and created["created_at"] and created["updated_at"]

    got = api.get(f"/{resource}/{rid}")
    assert got.status_code == 200 and got.json()["id"] == rid

    patched = api.patch(f"/{resource}/{rid}", patch)
    assert patched.status_code == 200, patched.text
    for key, value in patch.items():
        if key == "is_done":
            assert patched.json()["done_at"] is not None
        assert str(patched.json()[key]) == str(value)
    assert patched.json()["updated_at"] >= created["updated_at"]

    listed = [row["id"] for row in api.list_all(resource)]
    assert rid in listed

    deleted = api.delete(f"/{resource}/{rid}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(api.get(f"/{resource}/{rid}"), 404)
    assert_problem(api.delete(f"/{resource}/{rid}"), 404)
    assert rid not in [row["id"] for row in api.list_all(resource)]


def test_created_values_are_stored(api):
    company = api.company(domain="stored.example.com", lifecycle="customer", customer_since="2025-03-01")
    contact = api.contact("  Bob@Stored.Example.com ", first_name="Bob", company_id=company["id"])
    assert contact["email"].lower() == "bob@stored.example.com"
    assert contact["company_id"] == company["id"]
    assert api.get(f"/companies/{company['id']}").json()["customer_since"] == "2025-03-01"
    activity = api.create("activities", {"type": "order", "occurred_at": "2026-01-02T03:04:05+02:00",
                                         "properties": {"total": 99.5, "items": ["a", "b"]}})
    assert activity["properties"] == {"total": 99.5, "items": ["a", "b"]}
    assert activity["occurred_at"].startswith("2026-01-02T01:04:05")
    assert activity["source"] == "api"


def test_contact_email_unique_per_tenant(api, other_api):
    api.contact("dup@example.com")
    conflict = api.post("/contacts", {"email": "DUP@example.com"})
    body = assert_problem(conflict, 409)
    assert "email" in body["detail"]
    # the same address in another tenant is a different person
    assert other_api.post("/contacts", {"email": "dup@example.com"}).status_code == 201


def test_company_domain_unique_and_churn_stamp(api):
    company = api.company(domain="churny.example.com")
    assert_problem(api.post("/companies", {"name": "Other", "domain": "CHURNY.example.com"}), 409)
    churned = api.patch(f"/companies/{company['id']}", {"lifecycle": "churned"}).json()
    assert churned["churned_at"] is not None
    back = api.patch(f"/companies/{company['id']}", {"lifecycle": "customer"}).json()
    assert back["churned_at"] is None


def test_deleting_company_keeps_contacts_unlinked(api):
    company = api.company()
    contact = api.contact("linked@example.com", company_id=company["id"])
    assert api.delete(f"/companies/{company['id']}").status_code == 204
    assert api.get(f"/contacts/{contact['id']}").json()["company_id"] is None


def test_note_author_is_the_caller_user_or_none(api):
    note = api.create("notes", {"body": "by key"})
    assert note["author_id"] is None  # an API key is not a user
    assert note["occurred_at"]


def test_task_done_on_create_and_reopen(api):
    task = api.create("tasks", {"title": "Call back", "is_done": True})
    assert task["done_at"] is not None
    reopened = api.patch(f"/tasks/{task['id']}", {"is_done": False}).json()
    assert reopened["is_done"] is False and reopened["done_at"] is None


def test_patch_with_empty_body_changes_nothing(api):
    company = api.company(industry="Retail")
    same = api.patch(f"/companies/{company['id']}", {})
    assert same.status_code == 200 and same.json()["industry"] == "Retail"


def test_patch_required_field_to_null_is_422(api):
    company = api.company()
    assert_problem(api.patch(f"/companies/{company['id']}", {"name": None}), 422)

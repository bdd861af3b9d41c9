"""`GET /api/v1/audit`: every API write leaves an entry naming its key, with the fields before and after;
filters, newest-first cursor paging, problem+json on bad filters, and another agency's entries never shown."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from crm.db.engine import tenant_session
from tests.api.conftest import assert_problem


def _audit(api, **params) -> list[dict]:
    return api.list_all("audit", limit=200, **params)


def _api_key_id(tenant: dict) -> uuid.UUID:
    with tenant_session(tenant["tenant_id"]) as s:
        return s.execute(text("select id from api_keys")).scalar_one()


def test_api_create_update_delete_are_audited_with_old_and_new_values(api, tenant):
    company = api.company(name="Acme", domain="acme.example")
    r = api.patch(f"/companies/{company['id']}", {"name": "Acme Ltd", "industry": "Retail"},
                  headers={"X-Request-ID": "req-audit-1"})
    assert r.status_code == 200, r.text
    assert api.delete(f"/companies/{company['id']}").status_code == 204

    entries = _audit(api, entity_type="company", entity_id=company["id"])
    assert [e["action"] for e in entries] == ["delete", "update", "create"]   # newest first
    delete, update, create = entries
    key_id = str(_api_key_id(tenant))
    assert {(e["actor_type"], e["actor_id"]) for e in entries} == {("api_key", key_id)}
    assert create["changes"]["name"] == [None, "Acme"] and create["changes"]["domain"] == [None, "acme.example"]
    assert update["changes"] == {"name": ["Acme", "Acme Ltd"], "industry": [None, "Retail"]}
    assert update["request_id"] == "req-audit-1"
    assert delete["changes"]["name"] == ["Acme Ltd", None]
    assert delete["changes"]["id"] == [company["id"], None]       # uuids stored as JSON strings


def test_a_deal_update_stores_json_values_and_filters_combine(api):
    pipeline = api.pipeline(is_default=True)
    won = next(s["id"] for s in pipeline["stages"] if s["name"] == "Won")
    deal = api.deal(name="Retainer", amount="100.50")
    assert api.patch(f"/deals/{deal['id']}", {"stage_id": won, "amount": "250.00"}).status_code == 200

    (update,) = _audit(api, entity_type="deal", entity_id=deal["id"], action="update")
    assert update["changes"]["stage_id"] == [deal["stage_id"], won]
    assert update["changes"]["amount"] == ["100.50", "250.00"]      # Decimal as a string
    assert update["changes"]["status"] == ["open", "won"]
    assert isinstance(update["changes"]["closed_at"][1], str)       # a timestamp as ISO text
    assert _audit(api, entity_type="deal", action="delete") == []
    assert {e["entity_type"] for e in _audit(api, actor_type="api_key")} >= {"pipeline", "stage", "deal"}
    assert _audit(api, actor_type="user") == []


def test_cursor_paging_newest_first_without_gaps(api):
    ids = [api.create("notes", {"body": f"note {i}"})["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        params = {"entity_type": "note", "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/audit", params=params).json()
        assert len(body["data"]) <= 3
        seen += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [e["entity_id"] for e in seen] == ids[::-1]
    assert [e["id"] for e in seen] == sorted((e["id"] for e in seen), reverse=True)


def test_since_and_until(api):
    note = api.create("notes", {"body": "timed"})
    (entry,) = _audit(api, entity_id=note["id"])
    at = entry["occurred_at"]
    assert [e["entity_id"] for e in _audit(api, entity_id=note["id"], since=at)] == [note["id"]]
    assert _audit(api, entity_id=note["id"], until=at) == []


def test_bad_filters_are_problems(api):
    assert_problem(api.get("/audit", params={"entity_type": "spaceship"}), 422)
    assert_problem(api.get("/audit", params={"entity_id": "not-a-uuid"}), 422)
    assert_problem(api.get("/audit", params={"actor_type": "robot"}), 422)
    assert_problem(api.get("/audit", params={"action": "erase"}), 422)
    assert_problem(api.get("/audit", params={"since": "yesterday"}), 422)
    assert_problem(api.get("/audit", params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}), 422)
    assert_problem(api.get("/audit", params={"cursor": "garbage!"}), 400)
    assert_problem(api.get("/audit", params={"limit": 0}), 422)


def test_any_role_reads_and_the_events_endpoint_is_audited(api, client, tenant):
    from crm.tenancy import create_api_key
    from tests.api.conftest import Api

    contact = api.contact("ann@acme.example")
    body = {"events": [{"type": "call", "occurred_at": "2026-01-05T10:00:00Z", "external_id": "audit-1",
                        "contact_email": "ann@acme.example"}]}
    (outcome,) = api.post("/events", body).json()["results"]
    reader = Api(client, {"Authorization": f"Bearer {create_api_key(tenant['tenant_id'], 'read-only')['api_key']}"})
    (entry,) = _audit(reader, entity_type="activity", entity_id=outcome["activity_id"])
    assert entry["action"] == "create" and entry["actor_type"] == "api_key"
    assert entry["changes"]["contact_id"] == [None, contact["id"]]


def test_another_agencys_entries_never_appear(api, other_api):
    mine = api.company(name="Mine")
    theirs = other_api.company(name="Theirs")
    assert {e["entity_id"] for e in _audit(api)} == {mine["id"]}
    assert _audit(api, entity_id=theirs["id"]) == []
    assert _audit(other_api, entity_id=mine["id"]) == []
    assert {e["entity_id"] for e in _audit(other_api, entity_type="company")} == {theirs["id"]}


def test_a_csv_upload_is_audited_as_an_import_by_the_key_with_the_file_name(api, tenant):
    r = api.post("/imports/contacts", files={"file": ("spring-leads.csv", b"email,first name\nbo@x.example,Bo\n")})
    assert r.status_code == 200, r.text
    (entry,) = _audit(api, entity_type="contact")
    assert (entry["actor_type"], entry["actor_id"], entry["actor_label"]) == (
        "import", str(_api_key_id(tenant)), "spring-leads.csv")
    assert entry["changes"]["email"] == [None, "bo@x.example"]


def test_tenant_settings_changes_are_audited(api, tenant):
    assert api.patch("/tenant/settings", {"churn_mode": "activity"}).status_code == 200
    (entry,) = _audit(api, entity_type="tenant")
    assert (entry["entity_id"], entry["actor_type"]) == (tenant["tenant_id"], "api_key")
    assert entry["changes"] == {"churn_mode": ["contractual", "activity"]}

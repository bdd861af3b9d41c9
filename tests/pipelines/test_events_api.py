"""POST /api/v1/events lands events in activities for the caller's tenant only, once per external_id."""

from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import app
from crm.db.engine import tenant_session
from tests.pipelines.factory import insert


def test_events_batch_accepts_dedupes_and_rejects_per_event(tenant, other_tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        contact = insert(s, "contacts", email="eve@events.example", first_name="Eve")
        company = insert(s, "companies", name="Orders Co")
    with tenant_session(other_tenant["tenant_id"]) as s:
        foreign = insert(s, "contacts", email="mallory@events.example", first_name="Mal")
    events = [
        {"type": "web_visit", "occurred_at": "2025-11-01T10:00:00Z", "external_id": "v1",
         "contact_email": "EVE@events.example", "source": "analytics", "properties": {"page": "/pricing"}},
        {"type": "order", "occurred_at": "2025-11-01T11:00:00Z", "external_id": "o1", "company_id": company},
        {"type": "web_visit", "occurred_at": "2025-11-01T10:00:00Z", "external_id": "v1",
         "contact_id": contact, "source": "analytics"},
        {"type": "email_opened", "occurred_at": "2025-11-01T12:00:00Z", "external_id": "x1", "contact_id": foreign},
        {"type": "email_opened", "occurred_at": "2025-11-01T12:00:00Z", "external_id": "x2",
         "contact_email": "mallory@events.example"},
    ]
    with TestClient(app) as client:
        r = client.post("/api/v1/events", json={"events": events}, headers=tenant["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 2)
        assert [o["status"] for o in body["results"]] == ["accepted", "accepted", "duplicate", "rejected", "rejected"]
        assert "not a contact of this tenant" in body["results"][3]["reason"]
        again = client.post("/api/v1/events", json={"events": events[:2]}, headers=tenant["headers"]).json()
        assert again["duplicates"] == 2
        bad = client.post("/api/v1/events", json={"events": [{"type": "teleport"}]}, headers=tenant["headers"])
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
    with tenant_session(tenant["tenant_id"]) as s:
        rows = s.execute(text("select type, source, contact_id::text, company_id::text from activities "
                              "order by external_id")).all()
    assert [(r.type, r.source) for r in rows] == [("order", "api"), ("web_visit", "analytics")]
    assert rows[1].contact_id == contact and rows[0].company_id == company
    with tenant_session(other_tenant["tenant_id"]) as s:
        assert s.execute(text("select count(*) from activities")).scalar_one() == 0

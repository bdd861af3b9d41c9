"""The baseline for bench/load.py and bench/score_endpoint.py: a bare FastAPI app answering fixed JSON of the
same shapes as the CRM's API on the same URLs (the crowd's mix included), no auth, no database."""

import uuid

from fastapi import FastAPI

app = FastAPI()

_CONTACT = {"id": str(uuid.uuid4()), "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "email": "ann.lee@example.com", "first_name": "Ann", "last_name": "Lee", "phone": None, "title": "CMO",
            "company_id": None, "lead_source": "webinar", "lifecycle_stage": "lead", "owner_id": None}
_PAGE = {"data": [dict(_CONTACT, id=str(uuid.uuid4())) for _ in range(50)], "next_cursor": "x"}
_RECORD = {"id": str(uuid.uuid4()), "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
           "name": "Acme", "company_id": None, "contact_id": None, "amount": "1200.00", "status": "open"}


@app.get("/api/v1/contacts/{id}")
def contact(id: str) -> dict:
    return dict(_CONTACT, id=id)


@app.get("/api/v1/contacts")
def contacts(limit: int = 50, cursor: str | None = None) -> dict:
    return _PAGE


_SCORE = {"score": 41, "probability": 0.41, "tier": "A",
          "factors": [{"feature": "emails_replied_30d", "value": 3, "impact": 12.3,
                       "text": "Replied to 3 emails in the last 30 days: +12"}] * 5,
          "model": {"name": "lead_score", "version": "1"}, "scored_at": "2026-01-01T00:00:00Z"}


@app.get("/api/v1/scores/leads/{id}")
def lead_score(id: str) -> dict:
    return _SCORE


@app.get("/api/v1/{resource}/{id}")
def record(resource: str, id: str) -> dict:
    return dict(_RECORD, id=id)


@app.post("/api/v1/{resource}", status_code=201)
def create(resource: str, body: dict) -> dict:
    return dict(_RECORD, **body)


@app.patch("/api/v1/contacts/{id}")
def update_contact(id: str, body: dict) -> dict:
    return dict(_CONTACT, id=id, **body)


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}

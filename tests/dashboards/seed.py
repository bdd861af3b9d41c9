"""A small agency for browser tests, created through the real API (and, for what the pipeline publishes —
scores, score history, sentiment — written as the pipeline would, under the tenant's RLS)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.web import app
from crm.db.engine import tenant_session


def seed_agency(tenant: dict) -> dict:
    now = datetime.now(UTC)
    with TestClient(app) as client:
        h = tenant["headers"]

        def post(path, body):
            r = client.post(f"/api/v1{path}", json=body, headers=h)
            assert r.status_code == 201, r.text
            return r.json()

        pipeline = post("/pipelines", {"name": "New business"})
        stages = {s["name"]: s["id"] for s in pipeline["stages"]}
        acme = post("/companies", {"name": "Acme Outdoor", "domain": "acme-outdoor.example", "industry": "Retail",
                                   "lifecycle": "customer", "customer_since": str(date.today() - timedelta(days=400))})
        bloom = post("/companies", {"name": "Bloom Dental", "industry": "Healthcare", "lifecycle": "prospect"})
        ada = post("/contacts", {"email": "ada@acme-outdoor.example", "first_name": "Ada", "last_name": "Lovelace",
                                 "title": "Head of Marketing", "company_id": acme["id"], "lifecycle_stage": "sql"})
        ben = post("/contacts", {"email": "ben@bloom.example", "first_name": "Ben", "last_name": "Okafor",
                                 "company_id": bloom["id"], "lifecycle_stage": "lead"})
        deal = post("/deals", {"name": "Acme SEO retainer", "stage_id": stages["Qualified"], "amount": "12000",
                               "company_id": acme["id"], "contact_id": ada["id"],
                               "expected_close_date": str(date.today() + timedelta(days=20))})
        post("/deals", {"name": "Bloom paid social", "stage_id": stages["Proposal"], "amount": "8000",
                        "company_id": bloom["id"], "contact_id": ben["id"],
                        "expected_close_date": str(date.today() + timedelta(days=45))})
        for i, kind in enumerate(["email_sent", "email_opened", "email_clicked", "meeting", "web_visit"]):
            post("/activities", {"type": kind, "contact_id": ada["id"], "company_id": acme["id"],
                                 "occurred_at": (now - timedelta(days=3 * i + 1)).isoformat(),
                                 "subject": f"Quarterly review {i}" if kind == "meeting" else None})
        note = post("/notes", {"body": "Ada said the reporting dashboard is late again and the budget is under "
                                       "review for next quarter.", "contact_id": ada["id"], "company_id": acme["id"]})
        post("/tasks", {"title": "Send Ada the revised SEO proposal", "contact_id": ada["id"],
                        "due_at": (now + timedelta(days=2)).isoformat()})
        post("/campaigns", {"name": "Spring webinar", "channel": "webinar", "status": "active", "budget": "3000",
                            "starts_on": str(date.today() - timedelta(days=30))})
    reasons = [{"feature": "email_clicks_30d", "value": 3, "impact": 0.8, "text": "Clicked 3 emails in 30 days"},
               {"feature": "meetings_90d", "value": 1, "impact": 0.5, "text": "Met the team this quarter"},
               {"feature": "days_since_activity", "value": 1, "impact": -0.1, "text": "Active yesterday"}]
    with tenant_session(tenant["tenant_id"]) as s:
        for days_ago, score in ((21, 55), (14, 63), (7, 71), (0, 82)):
            s.execute(text("insert into score_history (tenant_id, entity_type, entity_id, score, probability, tier, "
                           "factors, model_name, model_version, scored_at) values (:t, 'lead', :e, :s, :p, 'A', "
                           "cast(:f as jsonb), 'lead_score', '1', :at)"),
                      {"t": tenant["tenant_id"], "e": ada["id"], "s": score, "p": score / 100,
                       "f": json.dumps(reasons), "at": now - timedelta(days=days_ago)})
        s.execute(text("insert into scores (tenant_id, entity_type, entity_id, score, probability, tier, factors, "
                       "model_name, model_version, scored_at) values "
                       "(:t, 'lead', :ada, 82, 0.82, 'A', cast(:f as jsonb), 'lead_score', '1', now()), "
                       "(:t, 'lead', :ben, 34, 0.34, 'C', '[]', 'lead_score', '1', now()), "
                       "(:t, 'account', :acme, 71, 0.71, 'A', cast(:g as jsonb), 'churn', '1', now())"),
                  {"t": tenant["tenant_id"], "ada": ada["id"], "ben": ben["id"], "acme": acme["id"],
                   "f": json.dumps(reasons),
                   "g": json.dumps([{"feature": "tickets_30d", "value": 4, "impact": 0.9,
                                     "text": "4 support tickets in 30 days"}])})
    return {"ada": ada, "ben": ben, "acme": acme, "bloom": bloom, "deal": deal, "stages": stages, "note": note,
            "pipeline": pipeline}

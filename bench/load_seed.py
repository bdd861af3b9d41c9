"""Agencies for bench/load.py in a scratch CRM_HOME, seeded in seconds instead of the demo's whole pipeline:
companies, contacts, deals and a few notes written through the app role under RLS (bulk inserts, no change
events), several API keys each, and a published lead score for every contact through `crm.scores.refresh`
(the live refresh's own publishing function), so score reads hit real rows. The notes give the insight index
something to hold: the refresher embeds them while bench/load.py waits for its queues, so its embedding model
(about 9 s of CPU to load) is loaded before anything is measured, as in a server that has been up."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass, field

import httpx

SIZES = {"small": 2_000, "medium": 10_000, "large": 50_000}   # contacts per agency
NOTES = 20                                                      # per agency
FACTORS = json.dumps([{"feature": f, "value": v, "impact": i, "text": t} for f, v, i, t in (
    ("emails_replied_30d", 3, 12.3, "Replied to 3 emails in the last 30 days: +12"),
    ("web_visits_30d", 8, 6.1, "8 website visits in the last 30 days: +6"),
    ("meetings_90d", 1, 4.0, "A meeting in the last 90 days: +4"),
    ("days_since_last_touch", 21, -3.2, "No touch for 21 days: -3"),
    ("lead_source", "webinar", 1.5, "Came from a webinar: +2"))])
STAGES = (("Qualified", 0.1), ("Proposal", 0.4), ("Negotiation", 0.7), ("Won", 1.0), ("Lost", 0.0))


@dataclass
class Agency:
    name: str
    tenant_id: str
    keys: list[str]
    contacts: list[str]
    companies: list[str]
    deals: list[str]
    cursors: list[str | None] = field(default_factory=lambda: [None])


def seed(agencies: int, contacts: int, keys_per_agency: int, rng: random.Random) -> list[Agency]:
    """`agencies` tenants of `contacts` contacts each (contacts/10 companies, contacts/4 deals), all scored."""
    from crm.db.migrate import migrate
    from crm.state import ensure_home
    from crm.tenancy import create_api_key, create_tenant

    ensure_home()
    migrate()
    out = []
    for a in range(agencies):
        name = f"Load Agency {a + 1:02d}"
        tenant = create_tenant(name, f"owner{a + 1}-{uuid.uuid4().hex[:6]}@load.example.com")
        keys = [tenant["api_key"]] + [create_api_key(tenant["tenant_id"], "member", f"load key {k}")["api_key"]
                                      for k in range(1, keys_per_agency)]
        out.append(_fill(Agency(name, tenant["tenant_id"], keys, [], [], []), contacts, rng))
    return out


def _fill(agency: Agency, n: int, rng: random.Random) -> Agency:
    from sqlalchemy import insert

    from crm import scores
    from crm.db.engine import tenant_session
    from crm.db.models import Company, Contact, Deal, Note, Pipeline, PipelineStage

    tid = uuid.UUID(agency.tenant_id)
    now = dt.datetime.now(dt.UTC)
    companies = [uuid.uuid4() for _ in range(max(1, n // 10))]
    contacts = [uuid.uuid4() for _ in range(n)]
    deals = [uuid.uuid4() for _ in range(max(1, n // 4))]
    with tenant_session(tid) as s:
        pipeline = uuid.uuid4()
        s.execute(insert(Pipeline), [{"id": pipeline, "tenant_id": tid, "name": "Sales", "is_default": True}])
        stages = [uuid.uuid4() for _ in STAGES]
        s.execute(insert(PipelineStage), [
            {"id": sid, "tenant_id": tid, "pipeline_id": pipeline, "name": name, "position": i,
             "win_probability": p, "is_won": name == "Won", "is_lost": name == "Lost"}
            for i, (sid, (name, p)) in enumerate(zip(stages, STAGES, strict=True))])
        s.execute(insert(Company), [{"id": c, "tenant_id": tid, "name": f"Company {i}", "domain": f"c{i}.example.com",
                                     "industry": "software", "size": "11-50"} for i, c in enumerate(companies)])
        s.execute(insert(Contact), [
            {"id": c, "tenant_id": tid, "email": f"person{i}@c{i % len(companies)}.example.com",
             "first_name": f"First{i}", "last_name": f"Last{i}", "title": "Marketing Manager",
             "lead_source": "webinar", "company_id": companies[i % len(companies)]} for i, c in enumerate(contacts)])
        s.execute(insert(Deal), [
            {"id": d, "tenant_id": tid, "name": f"Deal {i}", "company_id": companies[i % len(companies)],
             "contact_id": contacts[i], "pipeline_id": pipeline, "stage_id": stages[i % 3], "amount": 1000 + i}
            for i, d in enumerate(deals)])
        s.execute(insert(Note), [
            {"id": uuid.uuid4(), "tenant_id": tid, "contact_id": contacts[i],
             "body": f"Call with First{i}: wants a proposal for {rng.randint(2, 40)} campaigns next quarter."}
            for i in range(min(NOTES, n))])
        scored = []
        for c in contacts:
            p = rng.random()
            scored.append({"entity_id": c, "score": round(p * 100), "probability": p,
                           "tier": "A" if p > 0.66 else "B" if p > 0.33 else "C", "factors": FACTORS,
                           "model_name": "lead_score", "model_version": "1", "model_kind": "learned",
                           "scored_at": now})
        scores.refresh(s, "lead", scored, [])
    agency.contacts = [str(c) for c in contacts]
    agency.companies = [str(c) for c in companies]
    agency.deals = [str(d) for d in deals]
    return agency


def read_cursors(base: str, agencies: list[Agency]) -> None:
    """Every page's cursor of each agency's contact list (through the API, the only place cursors are made),
    so list requests read pages from all over the table. Keys rotate to stay far below the per-key limit."""
    with httpx.Client(base_url=base, timeout=30) as client:
        for agency in agencies:
            cursors: list[str | None] = [None]
            while True:
                key = agency.keys[len(cursors) % len(agency.keys)]
                params = {"limit": 50} | ({"cursor": cursors[-1]} if cursors[-1] else {})
                r = client.get("/api/v1/contacts", params=params, headers={"Authorization": f"Bearer {key}"})
                r.raise_for_status()
                nxt = r.json()["next_cursor"]
                if not nxt:
                    break
                cursors.append(nxt)
            agency.cursors = cursors

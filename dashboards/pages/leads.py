"""Leads ranked by score, and one contact's page."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from crm import audit
from dashboards import charts
from dashboards.data import leads as data
from dashboards.data.records import contact_page, entity_card
from dashboards.pages.common import PageSession, page_number, parse_id
from dashboards.security import not_found_page
from dashboards.templating import render

router = APIRouter()


@router.get("/leads")
def leads(request: Request, s: PageSession, q: str = "", tier: str = "", stage: str = "", page: str = "1"):
    q = q.strip()[:200]
    result = data.leads(s, q=q, tier=tier, stage=stage, page=page_number(page))
    return render(request, "leads.html", {"page": result, "q": q, "tier": tier, "stage": stage,
                                          "tiers": data.TIERS, "stages": data.LIFECYCLE_STAGES})


def history_chart(history: list[dict]):
    if len(history) < 2:
        return ""
    return charts.line_chart([h["scored_at"].strftime("%d %b") for h in history],
                             [("Score", [h["score"] for h in history])], width=380, height=150, y_min=0, y_max=100)


def sentiment_chart(rows: list[dict]):
    if len(rows) < 2:
        return ""
    return charts.line_chart([r["week"].strftime("%d %b") for r in rows],
                             [("Sentiment", [round(float(r["compound"]), 2) for r in rows])],
                             width=380, height=140, y_min=-1, y_max=1, area=False, zero_line=True,
                             css="chart sentiment")


@router.get("/contacts/{contact_id}")
def contact(request: Request, s: PageSession, contact_id: str):
    page = contact_page(s, parse_id(contact_id, "contact"))
    if page is None:
        raise not_found_page("contact")
    return render(request, "contact.html", {**page, "history_chart": history_chart(page["history"]),
                                            "audit_history": audit.history(s, "contact", page["contact"].id),
                                            "sentiment_chart": sentiment_chart(page["sentiment"]),
                                            "now": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")})


CARDS = {"lead": ("contact", "contacts", "Lead score"), "account": ("company", "companies", "Churn risk")}


def score_card_fragment(request: Request, s: Session, entity_type: str, entity_id: str):
    """The score card alone (the page polls it after a write until the live refresher has caught up)."""
    kind, path, label = CARDS[entity_type]
    eid: uuid.UUID = parse_id(entity_id, kind)
    card = entity_card(s, entity_type, eid)
    if card is None:
        raise not_found_page(kind)
    response = render(request, "_score_card.html", {
        **card, "history_chart": history_chart(card["history"]), "card_label": label,
        "card_kind": "lead" if entity_type == "lead" else "risk", "card_url": f"/{path}/{eid}/score-card"})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/contacts/{contact_id}/score-card")
def contact_score_card(request: Request, s: PageSession, contact_id: str):
    return score_card_fragment(request, s, "lead", contact_id)

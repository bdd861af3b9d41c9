"""Leads ranked by score, and one contact's page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dashboards import charts
from dashboards.data import leads as data
from dashboards.data.records import contact_page
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
                                            "sentiment_chart": sentiment_chart(page["sentiment"])})

"""Customer accounts by churn risk, and one company's page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crm import audit
from dashboards.data import leads as data
from dashboards.data.records import company_page
from dashboards.pages.common import PageSession, page_number, parse_id
from dashboards.pages.leads import history_chart, score_card_fragment, sentiment_chart
from dashboards.security import not_found_page
from dashboards.templating import render

router = APIRouter()


@router.get("/accounts")
def accounts(request: Request, s: PageSession, q: str = "", risk: str = "", page: str = "1"):
    q = q.strip()[:200]
    result = data.accounts(s, q=q, risk=risk, page=page_number(page))
    return render(request, "accounts.html", {"page": result, "q": q, "risk": risk})


@router.get("/companies/{company_id}")
def company(request: Request, s: PageSession, company_id: str):
    page = company_page(s, parse_id(company_id, "company"))
    if page is None:
        raise not_found_page("company")
    return render(request, "company.html", {**page, "history_chart": history_chart(page["history"]),
                                            "audit_history": audit.history(s, "company", page["company"].id),
                                            "sentiment_chart": sentiment_chart(page["sentiment"])})


@router.get("/companies/{company_id}/score-card")
def company_score_card(request: Request, s: PageSession, company_id: str):
    return score_card_fragment(request, s, "account", company_id)

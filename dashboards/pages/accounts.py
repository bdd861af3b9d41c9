"""Customer accounts by churn risk, and one company's page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crm.db.engine import tenant_session
from dashboards.data import leads as data
from dashboards.data.records import company_page
from dashboards.pages.common import page_number, parse_id
from dashboards.pages.leads import history_chart, sentiment_chart
from dashboards.security import UserDep, not_found_page
from dashboards.templating import render

router = APIRouter()


@router.get("/accounts")
def accounts(request: Request, user: UserDep, q: str = "", risk: str = "", page: str = "1"):
    q = q.strip()[:200]
    with tenant_session(user.tenant_id) as s:
        result = data.accounts(s, q=q, risk=risk, page=page_number(page))
    return render(request, "accounts.html", {"page": result, "q": q, "risk": risk})


@router.get("/companies/{company_id}")
def company(request: Request, user: UserDep, company_id: str):
    cid = parse_id(company_id, "company")
    with tenant_session(user.tenant_id) as s:
        page = company_page(s, cid)
    if page is None:
        raise not_found_page("company")
    return render(request, "company.html", {**page, "history_chart": history_chart(page["history"]),
                                            "sentiment_chart": sentiment_chart(page["sentiment"])})

"""Campaigns: performance table and chart."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dashboards import charts
from dashboards.data.campaigns import performance
from dashboards.pages.common import PageSession
from dashboards.templating import money, render

router = APIRouter()


@router.get("/campaigns")
def campaigns(request: Request, s: PageSession):
    rows, published = performance(s)
    scored = [r for r in rows if r["published"]]
    top = sorted(scored, key=lambda r: float(r["won_amount"] or 0), reverse=True)[:10]
    chart = ""
    if any(float(r["won_amount"] or 0) or float(r["budget"]) for r in top):
        chart = charts.bar_chart([r["name"] for r in top],
                                 [("Budget", [float(r["budget"]) for r in top]),
                                  ("Won revenue", [float(r["won_amount"] or 0) for r in top])],
                                 width=1100, height=250, fmt=money)
    totals = {"budget": sum(float(r["budget"]) for r in rows), "members": sum(r["members"] for r in rows),
              "won": sum(float(r["won_amount"] or 0) for r in scored),
              "sent": sum(r["emails_sent"] or 0 for r in scored),
              "converted": sum(r["converted_members"] or 0 for r in scored)}
    return render(request, "campaigns.html", {"rows": rows, "chart": chart, "totals": totals,
                                              "published": published})

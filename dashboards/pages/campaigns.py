"""Campaigns: performance table and chart."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crm.db.engine import tenant_session
from dashboards import charts
from dashboards.data.campaigns import performance
from dashboards.security import UserDep
from dashboards.templating import money, render

router = APIRouter()


@router.get("/campaigns")
def campaigns(request: Request, user: UserDep):
    with tenant_session(user.tenant_id) as s:
        rows = performance(s)
    top = sorted(rows, key=lambda r: float(r["won"]) + float(r["pipeline"]) + float(r["budget"]), reverse=True)[:10]
    chart = ""
    if any(float(r["budget"]) or float(r["won"]) or float(r["pipeline"]) for r in top):
        chart = charts.bar_chart([r["name"] for r in top],
                                 [("Budget", [float(r["budget"]) for r in top]),
                                  ("Won revenue", [float(r["won"]) for r in top]),
                                  ("Open pipeline", [float(r["pipeline"]) for r in top])],
                                 width=1100, height=240, fmt=money)
    totals = {k: sum(float(r[k]) for r in rows) for k in ("budget", "won", "pipeline", "members", "sent")}
    return render(request, "campaigns.html", {"rows": rows, "chart": chart, "totals": totals})

"""Home: the agency's key figures at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dashboards import charts
from dashboards.data import home as data
from dashboards.pages.common import PageSession
from dashboards.security import UserDep
from dashboards.templating import money, render

router = APIRouter()


@router.get("/")
def home(request: Request, user: UserDep, s: PageSession):
    leads = data.new_leads(s)
    stages = data.pipeline_by_stage(s)
    wins = data.win_rate(s)
    risk = data.at_risk_accounts(s)
    trend = data.activity_trend(s)
    hot = data.hot_leads(s)
    tasks = data.open_tasks(s, user.user_id)
    trend_chart = charts.line_chart(trend["labels"], [("Engagement", trend["engagement"]),
                                                      ("Outreach", trend["outreach"])],
                                    width=760, height=230, label_every=4) if trend["total"] else ""
    by_pipeline: dict[str, list] = {}
    for r in stages:
        by_pipeline.setdefault(r["pipeline"], []).append((r["stage"], float(r["value"])))
    stage_charts = [(name, charts.hbar_chart(items, width=460, row=26, fmt=money))
                    for name, items in by_pipeline.items()]
    return render(request, "home.html", {
        "leads": leads, "stages": stages, "wins": wins, "risk": risk, "trend": trend, "hot": hot, "tasks": tasks,
        "trend_chart": trend_chart, "stage_charts": stage_charts,
        "open_value": sum(float(r["value"]) for r in stages),
        "weighted_value": sum(float(r["weighted"]) for r in stages),
        "open_deals": sum(r["deals"] for r in stages),
    })

"""Pipeline: a board of deals by stage (moved with PATCH /api/v1/deals/{id}) and the revenue forecast."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dashboards import charts
from dashboards.data import pipeline as data
from dashboards.pages.common import PageSession
from dashboards.security import UserDep
from dashboards.templating import money, render

router = APIRouter()


@router.get("/pipeline")
def pipeline(request: Request, user: UserDep, s: PageSession, pipeline: str = ""):
    all_pipelines = data.pipelines(s)
    current = next((p for p in all_pipelines if str(p.id) == pipeline), all_pipelines[0] if all_pipelines else None)
    columns = data.board(s, current.id) if current else []
    forecast = data.forecast(s, current.id) if current else None
    chart = ""
    if forecast and forecast["total"]:
        chart = charts.bar_chart(forecast["labels"], [("Expected", [m["expected"] for m in forecast["months"]]),
                                                      ("Open value", [m["value"] for m in forecast["months"]])],
                                 width=760, height=220, fmt=money)
    return render(request, "pipeline.html", {"pipelines": all_pipelines, "current": current, "columns": columns,
                                             "forecast": forecast, "forecast_chart": chart,
                                             "can_write": user.role != "read-only"})

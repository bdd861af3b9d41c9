"""Insights: ask a question about the agency's own notes and emails (answered by POST /api/v1/insights)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from dashboards.data.records import source_location
from dashboards.pages.common import PageSession, parse_id
from dashboards.security import not_found_page
from dashboards.templating import render
from serving.live.index_lane import index_progress

router = APIRouter()


@router.get("/insights")
def insights(request: Request, s: PageSession, q: str = ""):
    # while the index is filling (a first demo run, a big import) answers cover only what is indexed so far
    return render(request, "insights.html", {"question": q.strip()[:1000], "index": index_progress(s)})


@router.get("/sources/{source_type}/{source_id}")
def source(s: PageSession, source_type: str, source_id: str):
    """A citation's link: open the contact or company page at the cited note or activity."""
    target = source_location(s, source_type, parse_id(source_id, "source"))
    if target is None:
        raise not_found_page("source")
    return RedirectResponse(target, status_code=303)

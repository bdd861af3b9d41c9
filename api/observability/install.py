"""GET /metrics and the request observer around the whole app."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from api.observability.metrics import render, tally
from api.observability.middleware import RequestObserver, route_templates
from api.observability.queues import QueueDepths

router = APIRouter(tags=["operations"])
_scraped = CollectorRegistry()
_scraped.register(QueueDepths())


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    """Prometheus text format. This worker's tally is flushed in its event loop (where it is kept); reading the
    queues (and the workers' files) runs off the loop."""
    tally.flush()
    return Response(await run_in_threadpool(render, _scraped), media_type=CONTENT_TYPE_LATEST)


def install_observability(app: FastAPI) -> None:
    """Add /metrics and wrap the app's whole middleware stack (built on the first request) in the request
    observer, so it sees every response, the dashboard's middleware and 500s included. Call it last."""
    app.include_router(router)
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        return RequestObserver(build(), route_templates(app.routes))

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]

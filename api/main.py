"""The API app: routers under /api/v1, health at /healthz, docs at /docs and /redoc.

It mounts nothing from other packages: the web app that adds the dashboard is app/web.py.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.admission import install_early_answers
from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.observability.install import install_observability
from api.openapi import install_openapi
from api.routes import access as access_routes
from api.routes import activities, campaigns, companies, contacts, deals, health, notes, pipelines, tasks
from api.routes import audit as audit_routes
from api.routes import events as events_routes
from api.routes import imports as csv_imports
from api.routes import insights as insights_routes
from api.routes import next_action as next_action_routes
from api.routes import scores as scores_routes
from api.routes import tenant_settings as settings_routes
from api.routes import webhooks as webhook_routes
from api.routes import workflows as workflow_routes
from api.security_headers import install_security_headers

API_PREFIX = "/api/v1"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The one-trip read pool and the writes' async engine live in the server's event loop (per loop: test
    clients run apps in loops of their own), opened by the loop's first read or write and closed at shutdown."""
    from api.observability.metrics import register_pool
    from crm.db.engine import create_async_app_engine
    from crm.db.one_trip import LazyPool

    pools = app.state.one_trip_pools = getattr(app.state, "one_trip_pools", {})
    loop = asyncio.get_running_loop()
    lazy = pools[loop] = LazyPool()

    def stats() -> dict:
        return lazy.pool.get_stats() if lazy.pool is not None else {}

    register_pool("one_trip", in_use=lambda: stats().get("pool_size", 0) - stats().get("pool_available", 0),
                  size=lambda: lazy.pool.max_size if lazy.pool is not None else 0,
                  waiting=lambda: stats().get("requests_waiting", 0))
    engines = app.state.write_engines = getattr(app.state, "write_engines", {})
    writes = engines[loop] = create_async_app_engine()
    register_pool("writes", in_use=lambda: writes.pool.checkedout(),
                  size=lambda: writes.pool.size() + max(getattr(writes.pool, "_max_overflow", 0), 0))
    try:
        yield
    finally:
        await pools.pop(loop).close()
        await engines.pop(loop).dispose()


def _telemetry() -> dict | None:
    """FastAPI's own OpenTelemetry spans, metrics and logs, when an exporter is configured (OTEL_EXPORTER_OTLP_*
    or FASTAPI_OTEL_AUTO_CONFIGURE): FastAPI's defaults. Otherwise off: with nothing to export to, FastAPI still
    asked OpenTelemetry's global providers and the environment whether to trace, on every request (a twentieth
    of a worker's CPU on hot reads); the product's own request log and /metrics are api.observability."""
    if any(name.startswith("OTEL_EXPORTER_OTLP") for name in os.environ) or os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE"):
        return None
    return {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def create_app() -> FastAPI:
    app = FastAPI(
        title="Intelligence CRM API",
        version="1.0.0",
        description="Multi-tenant CRM for marketing agencies. Authenticate with `Authorization: Bearer <api_key>`.",
        docs_url=None,  # served by install_docs from local assets, not a CDN
        redoc_url=None,
        lifespan=lifespan,
        telemetry=_telemetry(),
    )
    install_error_handlers(app)
    install_openapi(app)  # every route's error statuses as problem+json
    app.add_middleware(BodyLimit)
    v1 = APIRouter(prefix=API_PREFIX)
    for module in (companies, contacts, pipelines, deals, activities, notes, tasks, campaigns):
        v1.include_router(module.router)
    v1.include_router(insights_routes.router)  # POST /insights, /contacts/{id}/email-draft
    v1.include_router(next_action_routes.router)  # GET /companies|contacts/{id}/next-action
    v1.include_router(csv_imports.router)
    v1.include_router(scores_routes.router)  # GET /scores/leads|accounts/{id}, leads:batch, :what-if
    v1.include_router(events_routes.router)  # POST /events: batches of activity events
    v1.include_router(access_routes.router)  # /api-keys, /users: admins manage their workspace's access
    v1.include_router(settings_routes.router)  # /tenant/settings: admins change the agency's churn mode
    v1.include_router(webhook_routes.router)  # /webhooks: outbound subscriptions, delivery log, test ping
    v1.include_router(audit_routes.router)  # GET /audit: the agency's append-only audit log
    v1.include_router(workflow_routes.router)  # /workflows: CRUD, templates, manual/webhook runs, history, report
    v1.include_router(workflow_routes.runs_router)  # /workflow-runs/{id}: one run, step by step
    app.include_router(v1)
    app.include_router(health.router)
    install_docs(app)  # /docs, /redoc from local assets
    # a key this worker is already refusing gets its 429, and a worker past its in-flight bound its 503, before
    # any other layer runs (the dashboard's session middleware included; inside the security headers and the
    # observer installed below, which wrap them); then the admission's RateLimit-* headers, and the hot requests'
    # own door (api.fast_lane), which answers them without Starlette's stack, the session layers or routing
    install_early_answers(app)
    # CSP, nosniff, frame and referrer policies on every response; it wraps the whole middleware stack when
    # that is built (first request), so middleware added later (the dashboard's) is inside it too
    install_security_headers(app)
    # request id, access log line and metrics: outermost, so it times and counts every answer, 500s included
    install_observability(app)
    return app


app = create_app()

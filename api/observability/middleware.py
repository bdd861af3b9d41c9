"""One pure ASGI wrapper around the whole app: a request id, the request's database time, its access log
line and its metrics.

Who called (tenant, key, user) is read from `scope["state"]["principal"]` after the app has answered:
authentication puts it there. The route is read from `scope["route"]` (set by the router on the shared
scope), so labels and log lines carry its template, e.g. /api/v1/contacts/{id}.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability import access_log, metrics
from crm.db import timing

REQUEST_ID_HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a path no route serves (raw paths would be unbounded labels)
# Score reads counted as served (200 answers), by their route templates: no score route has to know.
SCORE_ROUTES = {"/api/v1/scores/leads/{contact_id}": "lead", "/api/v1/scores/accounts/{company_id}": "account"}


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is up to 128 safe characters, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _VALID_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()


def route_templates(routes: Sequence[BaseRoute]) -> dict[int, str]:
    """Each route's full path template by the route's id. FastAPI keeps included routers nested and puts the
    route *as written in its router* in `scope["route"]` (its path_format lacks the include prefixes, e.g.
    /contacts/{id}); the full template is the one its route context carries."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before nested routers: routes are flat, each with its full path
        return {id(route): route.path_format for route in routes if hasattr(route, "path_format")}
    templates: dict[int, str] = {}
    for context in iter_route_contexts(routes):
        if context.path_format:
            templates.setdefault(id(context.original_route), context.path_format)
    return templates


class RequestObserver:
    def __init__(self, app: ASGIApp, templates: dict[int, str]):
        self.app, self.templates = app, templates

    def route_template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        return self.templates.get(id(route)) or getattr(route, "path_format", None) or UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        id_header = (REQUEST_ID_HEADER, rid.encode("ascii"))
        status = 500  # unless a response starts: an exception with no answer sent

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        db_time, token = timing.begin()
        metrics.process.in_flight += 1
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.process.in_flight -= 1
            timing.end(token)
            self._record(scope, rid, status, time.perf_counter() - started, db_time.seconds)

    def _record(self, scope: Scope, rid: str, status: int, seconds: float, db_seconds: float) -> None:
        record(scope, self.route_template(scope), rid, status, seconds, db_seconds)


def record(scope: Scope, route: str, rid: str, status: int, seconds: float, db_seconds: float) -> None:
    """Count a request in the metrics and write its access line (the observer's, and `api.edge`'s for the
    requests a worker refuses before its app is called)."""
    method = scope["method"] if scope["method"] in _METHODS else "OTHER"
    principal = scope["state"].get("principal")
    tenant = str(principal.tenant_id) if principal is not None else ""
    metrics.tally.add(method, route, status, tenant, seconds, db_seconds,
                      SCORE_ROUTES[route] if status == 200 and route in SCORE_ROUTES and method == "GET" else None)
    if access_log.log.isEnabledFor(20):  # INFO; the line is built only when someone reads it
        key_id = getattr(principal, "api_key_id", None)
        user_id = getattr(principal, "user_id", None)
        client = scope.get("client")
        access_log.write({
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "request_id": rid,
            "method": scope["method"], "path": route, "status": status,
            "duration_ms": round(seconds * 1000, 2), "db_ms": round(db_seconds * 1000, 2),
            "tenant_id": tenant or None, "key_id": str(key_id) if key_id else None,
            "user_id": str(user_id) if user_id else None, "client": client[0] if client else None,
        })

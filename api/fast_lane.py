"""The hot reads' own door: `GET /api/v1/<resource>/<id>` and `GET /api/v1/scores/{leads|accounts}/<id>`,
with an API key and no query string, go straight to the handler their declared route calls.

For such a read FastAPI's routing and dependency injection cost about as much CPU as everything else the
request does (the read itself is one round trip, `crm.db.one_trip`). This pure ASGI layer sits innermost,
inside every middleware (request id, access log and metrics, security and rate-limit headers, body limit),
recognises exactly those two shapes, and calls the route's own handler (`api.crud`, `api.routes.scores`
register it here with their route object, which it puts in `scope["route"]` as the router would). Anything
else (another method, a query string, a malformed id, a cookie session, any other path) goes through
FastAPI unchanged, and so does the OpenAPI document. Errors are rendered by the same problem+json mapping
as FastAPI's handlers (`api.errors.problem_for`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem_for
from crm.db import one_trip

PREFIX = "/api/v1/"
Reader = Callable[[Request, one_trip.Caller, uuid.UUID], Awaitable[Response]]
_by_id: dict[str, tuple[Reader, BaseRoute]] = {}   # "contacts" or "scores/leads" -> (handler, declared route)


def register(collection: str, reader: Reader, route: BaseRoute) -> None:
    """`GET /api/v1/<collection>/<id>` is answered by `reader(request, caller, id)`, as `route` declares."""
    _by_id[collection] = (reader, route)


def _match(scope: Scope) -> tuple[Reader, BaseRoute, uuid.UUID, str] | None:
    if scope["method"] != "GET" or scope["query_string"] or not scope["path"].startswith(PREFIX):
        return None
    collection, _, last = scope["path"][len(PREFIX):].rpartition("/")
    found = _by_id.get(collection)
    if found is None or len(last) != 36:
        return None
    token = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return None
            break
    if not token:
        return None
    try:
        id_ = uuid.UUID(last)
    except ValueError:
        return None
    return found[0], found[1], id_, token


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = _match(scope) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        reader, route, id_, token = matched
        scope["route"] = route
        try:
            response = await reader(Request(scope, receive), one_trip.KeyCaller.of(token), id_)
        except Exception as exc:
            response = problem_for(exc)
            if response is None:
                raise
        await response(scope, receive, send)

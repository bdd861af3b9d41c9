"""The hot requests' own door: `GET /api/v1/<resource>/<id>`, `GET /api/v1/scores/{leads|accounts}/<id>` and
`GET /api/v1/<resource>` (a page), with an API key, go straight to the handler their declared route calls; so
do creates and updates with a valid JSON body (`api.fast_writes`, which says how).

For such a read FastAPI's routing and dependency injection cost about as much CPU as everything else the
request does (the read itself is one round trip, `crm.db.one_trip`), and so did the layers of Starlette's
middleware stack it passed for nothing (its error middleware, the dashboard's session cookie and session
lookup, which an API key never uses, the body limit of a request without a body). This pure ASGI layer sits
inside the layers every request passes (request id, access log and metrics, security headers, known
refusals, the in-flight bound, rate-limit headers: `api.admission.install_early_answers`) and outside
Starlette's stack; it recognises exactly those shapes, and calls the route's own handler (`api.crud`,
`api.routes.scores` register it here with their route object, which it puts in `scope["route"]` as the router
would). A request with a body is not one of them (the body limit answers it). A read by id takes
no query string; a page takes only the query its resource's `accepts` understands as the router would (a
valid limit, a cursor, a search, equality filters, each once); anything else (another method, another query,
a malformed id, a cookie session, any other path) goes through FastAPI unchanged, so the router keeps every
validation error, and the OpenAPI document is the declared routes'. Errors raised by a handler are rendered
by the same problem+json mapping as FastAPI's handlers (`api.errors.problem_for`); any other error is logged
and answered 500 problem+json, as Starlette's error middleware would answer it (in plain text).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

from fastapi import Request, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api import fast_writes
from api.errors import problem_for
from crm.db import one_trip
from crm.problems import problem

log = logging.getLogger(__name__)

PREFIX = "/api/v1/"
Reader = Callable[[Request, one_trip.Caller, uuid.UUID], Awaitable[Response]]
Lister = Callable[[Request, one_trip.Caller, Mapping[str, str]], Awaitable[Response]]
Accepts = Callable[[Mapping[str, str]], bool]
_by_id: dict[str, tuple[Reader, BaseRoute]] = {}   # "contacts" or "scores/leads" -> (handler, declared route)
_lists: dict[str, tuple[Lister, BaseRoute, Accepts]] = {}   # "contacts" -> (handler, declared route, accepts)


def register(collection: str, reader: Reader, route: BaseRoute) -> None:
    """`GET /api/v1/<collection>/<id>` is answered by `reader(request, caller, id)`, as `route` declares."""
    _by_id[collection] = (reader, route)


def register_list(collection: str, lister: Lister, route: BaseRoute, accepts: Accepts) -> None:
    """`GET /api/v1/<collection>?<query>` is answered by `lister(request, caller, query)` when `accepts(query)`
    (the query as one value per name); any other query is left to the router that `route` belongs to."""
    _lists[collection] = (lister, route, accepts)


def _bearer(scope: Scope) -> str | None:
    """The API key of a request without a body; None if it has none, or has a body."""
    token = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, found = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not found:
                return None
            token = found
        elif (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            return None
    return token


def _query(scope: Scope) -> dict[str, str] | None:
    """The query string as parsed by Starlette, one value per name (None if a name repeats or is blank)."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    if len(query) != len(pairs) or "" in query.values():
        return None
    return query


def _match(scope: Scope) -> tuple[Callable[[Request, one_trip.Caller], Awaitable[Response]], BaseRoute, str] | None:
    """The handler for this request (bound to its id or query), its declared route and the API key; or None."""
    if scope["method"] != "GET" or not scope["path"].startswith(PREFIX):
        return None
    rest = scope["path"][len(PREFIX):]
    if (listed := _lists.get(rest)) is not None:
        lister, route, accepts = listed
        query = _query(scope)
        if query is None or not accepts(query) or (token := _bearer(scope)) is None:
            return None
        return (lambda request, caller: lister(request, caller, query)), route, token
    if scope["query_string"]:
        return None
    collection, _, last = rest.rpartition("/")
    found = _by_id.get(collection)
    if found is None or len(last) != 36 or (token := _bearer(scope)) is None:
        return None
    try:
        id_ = uuid.UUID(last)
    except ValueError:
        return None
    reader = found[0]
    return (lambda request, caller: reader(request, caller, id_)), found[1], token


def route_of(scope: Scope) -> BaseRoute | None:
    """The declared route of a hot read (for labels), or None."""
    matched = _match(scope)
    return matched[1] if matched is not None else None


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (write := fast_writes.match(scope)) is not None:
            await self._write(write, scope, receive, send)
            return
        matched = _match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        handler, route, token = matched
        scope["route"] = route
        await _answer(scope, receive, send, handler(Request(scope, receive), one_trip.KeyCaller.of(token)))

    async def _write(self, write: fast_writes.Write, scope: Scope, receive: Receive, send: Send) -> None:
        body, messages = await fast_writes.read_body(receive)
        received = fast_writes.replay(messages, receive)
        payload = fast_writes.payload_of(write, body)
        if payload is None:   # not JSON, or not valid: the router's own answer (422, 400 ...)
            await self.app(scope, received, send)
            return
        scope["route"] = write.route
        request = Request(scope, received)
        await _answer(scope, receive, send, write.call(request, one_trip.KeyCaller.of(write.token), payload))


async def _answer(scope: Scope, receive: Receive, send: Send, work: Awaitable[Response]) -> None:
    """Send what `work` answers; an error it raises as FastAPI's handlers would answer it."""
    try:
        response = await work
    except Exception as exc:
        response = problem_for(exc)
        if response is None:
            log.exception("%s %s failed", scope["method"], scope["path"])
            response = problem(500, "internal server error")
    await response(scope, receive, send)

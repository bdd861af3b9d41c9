"""The hot writes' side of the door (`api.fast_lane.FastLane`): `POST /api/v1/<collection>` and
`PATCH /api/v1/<collection>/<id>` of the CRUD resources, with an API key and a JSON body.

A write cost about 5.6 ms of a worker's CPU driven in-process, a quarter of it in Starlette's stack, FastAPI's
routing and its dependency resolution. For exactly these shapes the door reads the body itself, validates it
with the route's own body model as FastAPI does (`json.loads`, then the model), resolves what the route's
dependencies would (the caller from the key, the `Idempotency-Key` through `api.idempotency.idempotency`), and
calls the function the declared route calls (`api.crud` registers it with its route object). Anything it does
not take whole goes on to the router with the body it read, unchanged: a query string, another content type,
no or a chunked or a too large body (the body limit's), a body that is not JSON or does not validate (the
router's own 422), a malformed id. So every refusal but those of the work itself is still the router's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope

from api.idempotency import Idempotency, idempotency
from api.limits import MAX_BODY
from crm.db import one_trip

PREFIX = "/api/v1/"
Creator = Callable[[Request, one_trip.Caller, BaseModel, Idempotency], Awaitable[Response]]
Updater = Callable[[Request, one_trip.Caller, uuid.UUID, BaseModel], Awaitable[Response]]
_creates: dict[str, tuple[Creator, BaseRoute, type[BaseModel]]] = {}   # "notes" -> (handler, route, body model)
_updates: dict[str, tuple[Updater, BaseRoute, type[BaseModel]]] = {}


def register_create(collection: str, create: Creator, route: BaseRoute, body: type[BaseModel]) -> None:
    """`POST /api/v1/<collection>` with a valid `body` is answered by `create(request, caller, payload, idem)`."""
    _creates[collection] = (create, route, body)


def register_update(collection: str, update: Updater, route: BaseRoute, body: type[BaseModel]) -> None:
    """`PATCH /api/v1/<collection>/<id>` with a valid `body` is answered by `update(request, caller, id, payload)`."""
    _updates[collection] = (update, route, body)


@dataclass(frozen=True)
class Write:
    """A write the door takes if its body validates: as which route, with which key, calling what."""
    route: BaseRoute
    body: type[BaseModel]
    token: str
    call: Callable[[Request, one_trip.Caller, BaseModel], Awaitable[Response]]


def match(scope: Scope) -> Write | None:
    """The write this request is, before its body is read; None for anything the door leaves to the router."""
    method = scope["method"]
    if method not in ("POST", "PATCH") or scope["query_string"] or not scope["path"].startswith(PREFIX):
        return None
    token = key = None
    json_body, sized = False, False
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, found = value.decode("latin-1").partition(" ")
            token = found if scheme.lower() == "bearer" and found else None
        elif name == b"content-type":
            json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
        elif name == b"content-length":
            sized = value.isdigit() and 0 < int(value) <= MAX_BODY
        elif name == b"transfer-encoding":
            return None
        elif name == b"idempotency-key":
            key = value.decode("latin-1")
    if token is None or not json_body or not sized:
        return None
    rest = scope["path"][len(PREFIX):]
    if method == "POST":
        if (found := _creates.get(rest)) is None:
            return None
        create, route, body = found

        async def create_once(request: Request, caller: one_trip.Caller, payload: BaseModel) -> Response:
            return await create(request, caller, payload, await idempotency(request, key))
        return Write(route, body, token, create_once)
    collection, _, last = rest.rpartition("/")
    if (found := _updates.get(collection)) is None or len(last) != 36:
        return None
    try:
        id_ = uuid.UUID(last)
    except ValueError:
        return None
    update, route, body = found
    return Write(route, body, token, lambda request, caller, payload: update(request, caller, id_, payload))


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body, and the messages it came in (to hand on to the router unchanged)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives `messages` again, then whatever the connection sends next (a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()
    return replayed


def payload_of(write: Write, body: bytes) -> BaseModel | None:
    """The body validated as FastAPI validates it (JSON, then the route's model); None if it does not."""
    try:
        return write.body.model_validate(json.loads(body))
    except (ValueError, ValidationError):   # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None

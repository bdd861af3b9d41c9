"""Who gets in, and how fast: API-key authentication with per-key and per-agency rate limits, overload refusal.

Every API-key request is admitted by PostgreSQL (`api_admit`, migration 0015), so the limits hold across all
worker processes of `crm serve` and revoking a key takes effect on the very next request. Hot reads are
admitted in the same round trip as their read (`crm.db.one_trip`); other routes admit in a short transaction
of their own before the request's tenant transaction (`admit`). Dashboard users, authenticated by their
session cookie, are not rate limited.

- unknown or revoked key: 401;
- a bucket empty: 429 with `Retry-After` (seconds) and `RateLimit-Limit` / `RateLimit-Remaining`; while a key's
  refusal still runs in a worker, its requests are refused there by `KnownRefusals` before anything else;
  every API 429 is sent after CRM_REFUSAL_DELAY (a flooder's connections wait instead of taking the cores);
- no database connection within CRM_QUEUE_TIMEOUT, or more than CRM_MAX_IN_FLIGHT API requests already being
  handled by this worker: 503 with `Retry-After`, instead of a client timeout.
Admitted responses carry `RateLimit-Limit` and `RateLimit-Remaining` of the key.
"""

from __future__ import annotations

import asyncio
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, problem_for
from crm.db import one_trip
from crm.db.engine import app_engine
from crm.db.slots import Overloaded
from crm.security import hash_api_key
from crm.settings import get_settings
from crm.tenancy import Principal


def refusal(exc: Exception) -> ApiError:
    """The API's answer to a refusal of `crm.db.one_trip` (re-raises anything else)."""
    if isinstance(exc, one_trip.Unauthorized):
        return ApiError(401, "the API key is not valid (unknown or revoked)", type_="/problems/unauthorized")
    if isinstance(exc, one_trip.RateLimited):
        return ApiError(429, str(exc), type_="/problems/rate-limited",
                        headers={"Retry-After": str(exc.retry_after), "RateLimit-Limit": f"{exc.limit:g}",
                                 "RateLimit-Remaining": "0"})
    raise exc   # Overloaded included: api.errors answers it 503 wherever it comes from


def admitted(scope: Scope, admission: one_trip.Admission) -> Principal:
    """Record an admission on the request (its principal for logs and metrics, its rate headers)."""
    principal = Principal(tenant_id=admission.tenant_id, role=admission.role, api_key_id=admission.api_key_id)
    state = scope.setdefault("state", {})
    state["principal"] = principal
    state["rate_headers"] = [(b"ratelimit-limit", str(admission.rate_limit).encode()),
                             (b"ratelimit-remaining", str(max(admission.rate_remaining, 0)).encode())]
    return principal


def admit(scope: Scope, api_key: str) -> Principal:
    """Admit an API key in a transaction of its own (routes that keep a synchronous session)."""
    return admit_hash(scope, hash_api_key(api_key))


def admit_hash(scope: Scope, key_hash: str) -> Principal:
    try:
        admission = one_trip.spend(key_hash)   # a lease's request or a running refusal: no connection needed
        if admission is None:
            with app_engine().begin() as conn:
                admission = one_trip.admit_sync(conn, key_hash)
    except (one_trip.Unauthorized, one_trip.RateLimited) as exc:
        raise refusal(exc) from exc
    return admitted(scope, admission)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


class KnownRefusals:
    """Pure ASGI, outside every other layer of the app but the request observer and the security headers.

    - An API request whose key this worker is already refusing (its bucket cannot hold a token before a known
      instant, `crm.db.one_trip.Leases.refusal`) is answered 429 here, with the same problem+json,
      `Retry-After` and `RateLimit-*` headers as anywhere else, before routing, sessions, body parsing or the
      in-flight bound: a flood from one key costs this worker a hash and a dict look-up per request.
    - Every API 429 (those PostgreSQL's buckets gave further in too) is held CRM_REFUSAL_DELAY before it is
      sent, out here, after the in-flight bound has let the request go. An HTTP/1.1 connection carries one
      request at a time, so a client flooding over N connections is slowed to about N refusals per delay: it
      stops taking the cores its neighbours need, and a held refusal is a sleeping coroutine, no CPU.
    The observer still logs and counts every refusal (under the key's agency and key when this worker has
    admitted the key before; under its route when it is a hot read's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.held = 0   # refusals of this worker waiting out CRM_REFUSAL_DELAY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def send_or_hold(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and message["status"] == 429):
                held.append(message)
            else:
                await send(message)

        refused = None
        if one_trip.leases.any_refused() and (token := _bearer_token(scope)) is not None:
            key_hash = hash_api_key(token)
            refused = one_trip.leases.refusal(key_hash)
        if refused is not None:
            await self._refuse(scope, receive, send_or_hold, key_hash, refused)
        else:
            await self.app(scope, receive, send_or_hold)
        if held:
            await self._hold()
            for message in held:
                await send(message)

    async def _hold(self) -> None:
        """Wait about CRM_REFUSAL_DELAY (at most CRM_MAX_HELD_REFUSALS refusals at once; past that, none). The
        delay is spread over ±50 %: refusals held together must not all come back in the same instant."""
        settings = get_settings()
        delay = settings.crm_refusal_delay
        if delay <= 0 or self.held >= settings.crm_max_held_refusals:
            return
        self.held += 1
        try:
            await asyncio.sleep(delay * (0.5 + random.random()))
        finally:
            self.held -= 1

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, key_hash: str,
                      refused: one_trip.RateLimited) -> None:
        from api import fast_lane

        state = scope.setdefault("state", {})
        known = one_trip.leases.known(key_hash)
        if known is not None:   # who it is, for the access line and the metrics' tenant label
            state["principal"] = Principal(tenant_id=known.tenant_id, role=known.role, api_key_id=known.api_key_id)
        if (route := fast_lane.route_of(scope)) is not None:
            scope["route"] = route
        await problem_for(refusal(refused))(scope, receive, send)


class InFlight:
    """This worker process's API requests being handled, and its answer past CRM_MAX_IN_FLIGHT of them."""

    def __init__(self) -> None:
        self.count = 0
        self._refusal: tuple[int, list[tuple[bytes, bytes]], bytes] | None = None   # (count, headers, body)

    def full(self) -> bool:
        return self.count >= get_settings().crm_max_in_flight

    def refusal(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The 503 problem+json's headers and body, rendered once per in-flight count (always the bound, unless
        it changed): past capacity most answers are these, and rendering each afresh was a tenth of a refusal's
        CPU."""
        if self._refusal is None or self._refusal[0] != self.count:
            response = problem_for(Overloaded(f"{self.count} requests in flight in this worker"))
            self._refusal = (self.count, response.raw_headers, response.body)
        return self._refusal[1], self._refusal[2]


in_flight = InFlight()   # one per process: the bound is the worker's, whatever the apps it serves


class InFlightLimit:
    """Pure ASGI: at most `CRM_MAX_IN_FLIGHT` requests of this worker process are being handled at once; one
    more is answered 503 with `Retry-After` at once, before routing, parsing or any database work. Under
    `crm serve` the HTTP protocol answers most of those itself before calling the app (`api.edge`); this layer
    answers the rest (any other server, and a request let in while some key's refusal runs here).

    Without it an overloaded worker takes every request it is offered, and each one slows all the others:
    past its capacity a crowd of 10,000 connections got no read answered within 30 s. With it the requests
    it takes stay fast and the rest learn at once to come back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @property
    def in_flight(self) -> int:
        return in_flight.count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if in_flight.full():
            await self._refuse(send)
            return
        in_flight.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            in_flight.count -= 1

    @staticmethod
    async def _refuse(send: Send) -> None:
        headers, body = in_flight.refusal()
        await send({"type": "http.response.start", "status": 503, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})


class RateLimitHeaders:
    """Pure ASGI: adds the admission's RateLimit-* headers to the response of an admitted request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_rate(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get("rate_headers")
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_rate)


def install_early_answers(app) -> None:
    """Wrap the app's whole middleware stack (built on the first request) in KnownRefusals, the in-flight bound,
    the rate-limit headers and the hot requests' door (`api.fast_lane.FastLane`), outermost first; the security
    headers and the request observer, installed after, wrap them in turn. Every request passes those layers;
    a hot read or write then stops at the door, and everything else goes on into Starlette's stack (its error
    middleware, the dashboard's session layers, the body limit, routing)."""
    from api.fast_lane import FastLane

    build = app.build_middleware_stack

    def build_with_early_answers() -> ASGIApp:
        return KnownRefusals(InFlightLimit(RateLimitHeaders(FastLane(build()))))

    app.build_middleware_stack = build_with_early_answers  # type: ignore[method-assign]

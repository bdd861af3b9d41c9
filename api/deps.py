"""Dependency aliases: who is calling (Principal), their tenant's session, write access, one-trip reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import admission
from api.errors import ApiError
from crm.db import one_trip
from crm.db.engine import async_tenant_session, create_async_app_engine, tenant_session
from crm.db.slots import db_slot, held_slot
from crm.security import WRITE_ROLES
from crm.services import records
from crm.services.actor import set_actor
from crm.tenancy import Principal

_bearer = HTTPBearer(auto_error=False)
T = TypeVar("T")


def current_principal(request: Request,
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """API clients send `Authorization: Bearer <key>` (admitted: api.admission); dashboard users carry a
    signed session cookie."""
    if creds is not None:
        return admission.admit(request.scope, creds.credentials)
    return _session_principal(request)


def _session_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise ApiError(401, "missing credentials: send 'Authorization: Bearer <api_key>'",
                       type_="/problems/unauthorized")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_caller(request: Request,
                         creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> one_trip.Caller:
    """Who is calling, for a one-trip read: an API key still to be admitted (by the read's own round trip),
    or the dashboard session's tenant. Nothing here touches the database."""
    if creds is not None:
        return one_trip.KeyCaller.of(creds.credentials)
    return one_trip.TenantCaller(_session_principal(request).tenant_id)


CallerDep = Annotated[one_trip.Caller, Depends(current_caller)]


async def principal_of(request: Request, caller: one_trip.Caller) -> Principal:
    """The caller admitted on its own (a route that works in a session of its own): from this worker's lease of
    the key when it has one (no connection), else in one round trip on the loop's one-trip pool (no thread)."""
    if isinstance(caller, one_trip.KeyCaller):
        try:
            pool = getattr(request.app.state, "one_trip_pools", {}).get(asyncio.get_running_loop())
            granted = await one_trip.admit(pool, caller.key_hash)
        except (one_trip.Unauthorized, one_trip.RateLimited) as exc:
            raise admission.refusal(exc) from exc
        return admission.admitted(request.scope, granted)
    return _session_principal(request)


async def writer_of(request: Request, caller: one_trip.Caller) -> Principal:
    """`principal_of`, refused 403 unless its role may write."""
    return require_writer(await principal_of(request, caller))


async def read_in_one_trip(request: Request, caller: one_trip.Caller,
                           *statements: one_trip.Statement) -> list[list[dict]]:
    """`statements` in the caller's tenant, admission included, in one round trip (crm.db.one_trip); their rows."""
    try:
        pool = getattr(request.app.state, "one_trip_pools", {}).get(asyncio.get_running_loop())
        granted, results = await one_trip.run(pool, caller, statements)
    except (one_trip.Unauthorized, one_trip.RateLimited) as exc:
        raise admission.refusal(exc) from exc
    if granted is not None:
        admission.admitted(request.scope, granted)
    return results


def request_id_of(request: Request) -> str | None:
    """The request's id (the caller's X-Request-ID or a new one: api.observability), for the audit log."""
    return request.scope.get("state", {}).get("request_id")


def tenant_db(request: Request, principal: CurrentPrincipal,
              _slot: Annotated[None, Depends(db_slot, scope="function")]) -> Iterator[Session]:
    """The request's one tenant session: the tenant comes from the caller's credentials, never from input,
    and everything below the route works in this session (crm.db.slots bounds how many are open), in the
    caller's name (the audit log's actor: the API key, or the dashboard's signed-in user)."""
    with tenant_session(principal.tenant_id) as session:
        set_actor(session, principal.actor(), request_id=request_id_of(request))
        yield session


# scope="function": the transaction commits before the response is sent, so a failed commit is the client's error
SessionDep = Annotated[Session, Depends(tenant_db, scope="function")]


async def in_tenant_transaction(principal: Principal, work: Callable[..., T], *args: Any) -> T:
    """`work(session, *args)` in the caller's one tenant transaction, in a thread, inside a db slot; the
    transaction ends when `work` returns. For a route whose slow part needs no database (a chat model's
    answer): unlike SessionDep, the connection and the slot are not held while that part runs."""
    async with held_slot():
        return await run_in_threadpool(_in_tenant_session, principal, work, *args)


def _in_tenant_session(principal: Principal, work: Callable[..., T], *args: Any) -> T:
    with tenant_session(principal.tenant_id) as session:
        set_actor(session, principal.actor())
        return work(session, *args)


async def write_in_tenant(request: Request, principal: Principal, work: Callable[[Session], T]) -> T:
    """`work(session)` in the caller's one tenant transaction, committed before this returns, inside a db slot,
    on the event loop: the session's connection is the worker's async engine (api.main's lifespan, one per
    loop), and `work`, synchronous service code, runs through SQLAlchemy's greenlet bridge, its statements
    awaited like any other I/O. So a write takes no thread: with a thread-pool hop per dependency (SessionDep)
    the wake-ups and GIL hand-overs cost more CPU under load than the write's own Python. For work that only
    talks to PostgreSQL (the services of crm.services); work that computes at length takes a thread
    (`in_tenant_transaction`)."""
    async with held_slot():
        engine = getattr(request.app.state, "write_engines", {}).get(asyncio.get_running_loop())
        if engine is not None:
            return await _write(engine, request, principal, work)
        engine = create_async_app_engine(pooled=False)   # no lifespan ran in this loop (a bare test client)
        try:
            return await _write(engine, request, principal, work)
        finally:
            await engine.dispose()


async def _write(engine: AsyncEngine, request: Request, principal: Principal, work: Callable[[Session], T]) -> T:
    async with async_tenant_session(engine, principal.tenant_id) as session:
        set_actor(session.sync_session, principal.actor(), request_id=request_id_of(request))
        records.leave_references_to_constraints(session.sync_session)   # the request fails whole at a refusal
        return await session.run_sync(work)


def require_writer(principal: CurrentPrincipal) -> Principal:
    if principal.role not in WRITE_ROLES:
        raise ApiError(403, f"role '{principal.role}' may read but not write", type_="/problems/forbidden")
    return principal


def require_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role != "admin":
        raise ApiError(403, "this action needs the admin role", type_="/problems/forbidden")
    return principal


WriterDep = Annotated[Principal, Depends(require_writer)]
AdminDep = Annotated[Principal, Depends(require_admin)]

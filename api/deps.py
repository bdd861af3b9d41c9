"""Dependency aliases: who is calling (Principal), their tenant's session, write access."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from crm.db.engine import tenant_session
from crm.db.slots import db_slot, held_slot
from crm.security import WRITE_ROLES
from crm.tenancy import Principal, authenticate_api_key

_bearer = HTTPBearer(auto_error=False)
T = TypeVar("T")


def current_principal(request: Request,
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """API clients send `Authorization: Bearer <key>`; dashboard users carry a signed session cookie."""
    if creds is not None:
        principal = authenticate_api_key(creds.credentials)
        if principal is None:
            raise ApiError(401, "the API key is not valid (unknown or revoked)", type_="/problems/unauthorized")
        return principal
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise ApiError(401, "missing credentials: send 'Authorization: Bearer <api_key>'",
                       type_="/problems/unauthorized")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def tenant_db(principal: CurrentPrincipal,
              _slot: Annotated[None, Depends(db_slot, scope="function")]) -> Iterator[Session]:
    """The request's one tenant session: the tenant comes from the caller's credentials, never from input,
    and everything below the route works in this session (crm.db.slots bounds how many are open)."""
    with tenant_session(principal.tenant_id) as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a failed commit is the client's error
SessionDep = Annotated[Session, Depends(tenant_db, scope="function")]


async def in_tenant_transaction(principal: Principal, work: Callable[..., T], *args: Any) -> T:
    """`work(session, *args)` in the caller's one tenant transaction, in a thread, inside a db slot; the
    transaction ends when `work` returns. For a route whose slow part needs no database (a chat model's
    answer): unlike SessionDep, the connection and the slot are not held while that part runs."""
    async with held_slot():
        return await run_in_threadpool(_in_tenant_session, principal.tenant_id, work, *args)


def _in_tenant_session(tenant_id, work: Callable[..., T], *args: Any) -> T:
    with tenant_session(tenant_id) as session:
        return work(session, *args)


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

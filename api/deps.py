"""Dependency aliases: who is calling (Principal), their tenant's session, write access."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.errors import ApiError
from crm.db.engine import tenant_session
from crm.security import WRITE_ROLES
from crm.tenancy import Principal, authenticate_api_key

_bearer = HTTPBearer(auto_error=False)


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


# A request with a database session crosses several thread-pool hops (this dependency, the endpoint, the
# commit) while holding a pooled connection. Unbounded, such requests can hold every connection while the
# pool's threads sit blocked checking one out for the next requests: throughput collapses under many
# clients. So a request first waits for a slot here, in the event loop, holding no thread and no connection.
# (the known FastAPI + sync SQLAlchemy pool deadlock, fastapi/fastapi#3205)
DB_SLOTS = 20   # below app_engine's pool of 10 + 20 overflow, leaving connections for authentication
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def db_slot() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(DB_SLOTS)
    async with slots:
        yield


def tenant_db(principal: CurrentPrincipal,
              _slot: Annotated[None, Depends(db_slot, scope="function")]) -> Iterator[Session]:
    with tenant_session(principal.tenant_id) as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a failed commit is the client's error
SessionDep = Annotated[Session, Depends(tenant_db, scope="function")]


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

"""Helpers shared by page routes: the page's one tenant session, ids from URLs, redirects, page numbers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from crm.db.engine import tenant_session
from crm.db.slots import db_slot
from crm.ids import InvalidId, parse_uuid
from crm.services.actor import set_actor
from dashboards.security import UserDep, not_found_page


def page_db(request: Request, user: UserDep,
            _slot: Annotated[None, Depends(db_slot, scope="function")]) -> Iterator[Session]:
    """The page's one tenant session, for the signed-in user's tenant; everything the page reads or writes
    goes through it, in the user's name (the audit log's actor). Bounded by the same slots as the API's
    sessions (crm/db/slots.py)."""
    with tenant_session(user.tenant_id) as session:
        set_actor(session, user.actor(), request_id=request.scope.get("state", {}).get("request_id"))
        yield session


# scope="function": the transaction commits before the page is sent, as the API's SessionDep
PageSession = Annotated[Session, Depends(page_db, scope="function")]


def parse_id(value: str, kind: str) -> uuid.UUID:
    """A malformed id in a URL is a missing page, not a validation error."""
    try:
        return parse_uuid(value, f"{kind} id")
    except InvalidId:
        raise not_found_page(kind) from None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: `//evil.example` or `https://...` would make sign-in an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1

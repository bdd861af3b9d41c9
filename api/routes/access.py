"""`/api-keys` and `/users`: an agency's admins manage its API keys and users (crm.access holds the rules).

Admins only (other roles 403). Everything runs under the caller's tenant (RLS), so another agency's key
or user id answers 404, as a missing one does. Secrets are in the 201 answers only, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from fastapi import APIRouter, Request, Response

from api.deps import AdminDep, SessionDep
from api.errors import ApiError, not_found
from api.schemas.access import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyList,
    ApiKeyRead,
    InvitationRead,
    UserCreate,
    UserList,
    UserRead,
    UserUpdate,
)
from crm import access

router = APIRouter(tags=["access"])


@contextmanager
def _problems() -> Iterator[None]:
    try:
        yield
    except access.NotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    except access.Conflict as exc:
        raise ApiError(409, str(exc), type_="/problems/conflict") from None
    except access.Invalid as exc:
        raise ApiError(422, str(exc), type_="/problems/validation") from None


def _issued(key: access.IssuedKey) -> ApiKeyIssued:
    return ApiKeyIssued.model_validate({**ApiKeyRead.model_validate(key.row).model_dump(), "api_key": key.api_key})


@router.get("/api-keys", response_model=ApiKeyList, summary="List the workspace's API keys (no secrets)")
def list_api_keys(principal: AdminDep, session: SessionDep) -> dict:
    return {"data": [ApiKeyRead.model_validate(k) for k in access.list_api_keys(session)], "next_cursor": None}


@router.post("/api-keys", status_code=201, response_model=ApiKeyIssued,
             summary="Create an API key; the key is in this answer only")
def create_api_key(body: ApiKeyCreate, principal: AdminDep, session: SessionDep) -> ApiKeyIssued:
    with _problems():
        return _issued(access.create_api_key(session, principal.tenant_id, body.role, body.name))


@router.post("/api-keys/{key_id}/rotate", status_code=201, response_model=ApiKeyIssued,
             summary="Replace a key by a new one with the same name and role; the old one stops at once")
def rotate_api_key(key_id: uuid.UUID, principal: AdminDep, session: SessionDep) -> ApiKeyIssued:
    with _problems():
        return _issued(access.rotate_api_key(session, key_id))


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response,
               summary="Revoke a key at once (the key you call with needs ?confirm=self)")
def revoke_api_key(key_id: uuid.UUID, principal: AdminDep, session: SessionDep,
                   confirm: Literal["self"] | None = None) -> Response:
    with _problems():
        access.revoke_api_key(session, key_id, calling_key_id=principal.api_key_id, confirm_self=confirm == "self")
    return Response(status_code=204)


@router.get("/users", response_model=UserList, summary="List the workspace's users")
def list_users(principal: AdminDep, session: SessionDep) -> dict:
    return {"data": [UserRead.model_validate(u) for u in access.list_users(session)], "next_cursor": None}


@router.get("/users/{user_id}", response_model=UserRead, summary="One user")
def get_user(user_id: uuid.UUID, principal: AdminDep, session: SessionDep) -> UserRead:
    with _problems():
        return UserRead.model_validate(access.get_user(session, user_id))


@router.post("/users", status_code=201, response_model=InvitationRead,
             summary="Invite a user: answers the one-time invitation link (valid 7 days) to pass on")
def invite_user(body: UserCreate, request: Request, principal: AdminDep, session: SessionDep) -> InvitationRead:
    with _problems():
        inv = access.invite_user(session, principal.tenant_id, body.email, body.role, body.name,
                                 invited_by=principal.user_id)
    return InvitationRead(id=inv.id, email=inv.email, name=inv.name, role=inv.role, expires_at=inv.expires_at,
                          created_at=inv.created_at, invite_link=inv.invite_link,
                          invite_url=str(request.base_url).rstrip("/") + inv.invite_link)


@router.patch("/users/{user_id}", response_model=UserRead,
              summary="Change a user's role or deactivate / reactivate them; effective at once")
def update_user(user_id: uuid.UUID, body: UserUpdate, principal: AdminDep, session: SessionDep) -> UserRead:
    with _problems():
        return UserRead.model_validate(access.update_user(session, user_id, body.role, body.is_active))

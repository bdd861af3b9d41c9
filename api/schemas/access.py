"""Schemas for access management: API keys and users (with their invitations). Secrets appear only in the
`...Issued` answers, once; reads never carry a key, a hash or a password."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr

from crm.schemas.base import ReadModel, RequestModel, ShortText

Role = Literal["admin", "member", "read-only"]


class ApiKeyCreate(RequestModel):
    name: ShortText = ""
    role: Role = "member"


class ApiKeyRead(ReadModel):
    name: str
    prefix: str
    role: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    api_key: str


class ApiKeyList(BaseModel):
    data: list[ApiKeyRead]
    next_cursor: str | None = None


class UserCreate(RequestModel):
    """Inviting a user: they choose their own password when they open the invitation link."""

    email: EmailStr
    role: Role = "member"
    name: ShortText = ""


class UserUpdate(RequestModel):
    role: Role | None = None
    is_active: bool | None = None


class UserRead(ReadModel):
    email: str
    name: str
    role: str
    is_active: bool


class UserList(BaseModel):
    data: list[UserRead]
    next_cursor: str | None = None


class InvitationRead(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    expires_at: datetime
    created_at: datetime
    invite_link: str   # the path /invite/<token>, shown this once
    invite_url: str    # the same on this server's address

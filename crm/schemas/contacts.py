from __future__ import annotations

import uuid
from typing import Literal

from pydantic import EmailStr

from crm.schemas.base import ReadModel, RequestModel, ShortText
from crm.schemas.updates import UpdateModel

Stage = Literal["subscriber", "lead", "mql", "sql", "opportunity", "customer", "other"]


class ContactCreate(RequestModel):
    email: EmailStr
    first_name: ShortText = ""
    last_name: ShortText = ""
    phone: ShortText | None = None
    title: ShortText | None = None
    company_id: uuid.UUID | None = None
    lead_source: ShortText | None = None
    lifecycle_stage: Stage = "lead"
    owner_id: uuid.UUID | None = None


class ContactUpdate(UpdateModel):
    email: EmailStr = None
    first_name: ShortText = None
    last_name: ShortText = None
    phone: ShortText | None = None
    title: ShortText | None = None
    company_id: uuid.UUID | None = None
    lead_source: ShortText | None = None
    lifecycle_stage: Stage = None
    owner_id: uuid.UUID | None = None


class ContactRead(ReadModel):
    email: str
    first_name: str
    last_name: str
    phone: str | None
    title: str | None
    company_id: uuid.UUID | None
    lead_source: str | None
    lifecycle_stage: str
    owner_id: uuid.UUID | None

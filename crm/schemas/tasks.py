from __future__ import annotations

import uuid
from datetime import datetime

from crm.schemas.base import LongText, Name, ReadModel, RequestModel, Timestamp
from crm.schemas.updates import UpdateModel


class TaskCreate(RequestModel):
    title: Name
    description: LongText | None = None
    due_at: Timestamp | None = None
    is_done: bool = False
    assignee_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None


class TaskUpdate(UpdateModel):
    title: Name = None
    description: LongText | None = None
    due_at: Timestamp | None = None
    is_done: bool = None
    assignee_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None


class TaskRead(ReadModel):
    title: str
    description: str | None
    due_at: datetime | None
    is_done: bool
    done_at: datetime | None
    assignee_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    deal_id: uuid.UUID | None

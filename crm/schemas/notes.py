from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from crm.schemas.base import ReadModel, RequestModel, Storable, Timestamp
from crm.schemas.updates import UpdateModel

Body = Annotated[str, StringConstraints(min_length=1, max_length=20_000), Storable]


class NoteCreate(RequestModel):
    body: Body
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    occurred_at: Timestamp | None = None


class NoteUpdate(UpdateModel):
    body: Body = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None


class NoteRead(ReadModel):
    body: str
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    author_id: uuid.UUID | None
    occurred_at: datetime

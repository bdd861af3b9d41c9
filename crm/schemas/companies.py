from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from crm.schemas.base import CalendarDate, Name, ReadModel, RequestModel, ShortText
from crm.schemas.updates import UpdateModel

Lifecycle = Literal["prospect", "customer", "churned"]
Size = Literal["1-10", "11-50", "51-200", "201-1000", "1000+"]
Domain = Field(default=None, max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)+$")


class CompanyCreate(RequestModel):
    name: Name
    domain: str | None = Domain
    industry: ShortText | None = None
    size: Size | None = None
    lifecycle: Lifecycle = "prospect"
    owner_id: uuid.UUID | None = None
    customer_since: CalendarDate | None = None


class CompanyUpdate(UpdateModel):
    name: Name = None
    domain: str | None = Domain
    industry: ShortText | None = None
    size: Size | None = None
    lifecycle: Lifecycle = None
    owner_id: uuid.UUID | None = None
    customer_since: CalendarDate | None = None


class CompanyRead(ReadModel):
    name: str
    domain: str | None
    industry: str | None
    size: str | None
    lifecycle: str
    owner_id: uuid.UUID | None
    customer_since: date | None
    churned_at: datetime | None

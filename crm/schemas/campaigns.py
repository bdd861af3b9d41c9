from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm.schemas.base import CalendarDate, Currency, Name, ReadModel, RequestModel
from crm.schemas.updates import UpdateModel

Channel = Literal["email", "paid_search", "paid_social", "organic_social", "events", "content", "webinar",
                  "referral", "other"]
Status = Literal["draft", "active", "paused", "completed"]


class _Dates:
    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class CampaignCreate(_Dates, RequestModel):
    name: Name
    channel: Channel
    status: Status = "draft"
    budget: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("999999999999.99"), decimal_places=2)
    currency: Currency = "USD"
    starts_on: CalendarDate | None = None
    ends_on: CalendarDate | None = None


class CampaignUpdate(_Dates, UpdateModel):
    name: Name = None
    channel: Channel = None
    status: Status = None
    budget: Decimal = Field(default=None, ge=0, le=Decimal("999999999999.99"), decimal_places=2)
    currency: Currency = None
    starts_on: CalendarDate | None = None
    ends_on: CalendarDate | None = None


class CampaignRead(ReadModel):
    name: str
    channel: str
    status: str
    budget: Decimal
    currency: str
    starts_on: date | None
    ends_on: date | None


class MembersAdd(RequestModel):
    contact_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    contact_id: uuid.UUID
    status: str
    added_at: datetime

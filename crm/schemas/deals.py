from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crm.schemas.base import CalendarDate, Currency, Name, ReadModel, RequestModel, ShortText
from crm.schemas.updates import UpdateModel

Money = Field(default=Decimal(0), ge=0, le=Decimal("999999999999.99"), decimal_places=2)


class DealCreate(RequestModel):
    name: Name
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    amount: Decimal = Money
    currency: Currency = "USD"
    expected_close_date: CalendarDate | None = None
    owner_id: uuid.UUID | None = None


class DealUpdate(UpdateModel):
    name: Name = None
    stage_id: uuid.UUID = None
    company_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    amount: Decimal = Field(default=None, ge=0, le=Decimal("999999999999.99"), decimal_places=2)
    currency: Currency = None
    expected_close_date: CalendarDate | None = None
    lost_reason: ShortText | None = None
    owner_id: uuid.UUID | None = None


class StageChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_stage_id: uuid.UUID | None
    to_stage_id: uuid.UUID
    changed_at: datetime


class DealRead(ReadModel):
    name: str
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    company_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    amount: Decimal
    currency: str
    expected_close_date: date | None
    status: Literal["open", "won", "lost"]
    closed_at: datetime | None
    lost_reason: str | None
    owner_id: uuid.UUID | None
    stage_history: list[StageChange] = []

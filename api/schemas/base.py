"""Shared schema bases: requests refuse unknown fields, responses read from ORM objects."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from crm.timestamps import bounded, bounded_date


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

# Every timestamp a client sends: aware (naive = UTC) and within the product's range (crm.timestamps).
Timestamp = Annotated[datetime, AfterValidator(bounded)]
# Every calendar date a client sends (a close date, a campaign's first day): the same range.
CalendarDate = Annotated[date, AfterValidator(bounded_date)]

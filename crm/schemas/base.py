"""Shared schema bases: requests refuse unknown fields, responses read from ORM objects."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

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

_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text(pattern: re.Pattern, example: str):
    """Pydantic would also read 1700000000 or "0.5" as Unix time: the API takes ISO 8601 text only, as
    its OpenAPI document says (format date-time / date)."""

    def check(value: object) -> object:
        if isinstance(value, str) and pattern.match(value.strip()):
            return value
        if isinstance(value, date):  # datetime too
            return value  # already parsed (dashboard forms build payloads in Python)
        raise ValueError(f"must be ISO 8601 text such as {example!r}")

    return check


# Every timestamp a client sends: ISO 8601, aware (naive = UTC), within the product's range (crm.timestamps).
Timestamp = Annotated[datetime, BeforeValidator(_iso_text(_ISO_TIMESTAMP, "2026-03-01T09:30:00Z")),
                      AfterValidator(bounded)]
# Every calendar date a client sends (a close date, a campaign's first day): the same range.
CalendarDate = Annotated[date, BeforeValidator(_iso_text(_ISO_DATE, "2026-03-01")), AfterValidator(bounded_date)]

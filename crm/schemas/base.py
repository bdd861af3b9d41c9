"""Shared schema bases: requests refuse unknown fields, responses read from ORM objects."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from crm.timestamps import bounded, bounded_date


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


def holds_nul(value: Any) -> bool:
    """A NUL character anywhere in a string, or in the keys and values of a JSON-like structure."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


def _storable(value: Any) -> Any:
    # PostgreSQL's text and jsonb cannot hold NUL: refused here, the error names the field; refused by the
    # database, it would be one anonymous error for the whole request (or a whole batch of events)
    if holds_nul(value):
        raise ValueError("holds a NUL character (\\u0000), which cannot be stored: remove it")
    return value


Storable = AfterValidator(_storable)
StorableStr = Annotated[str, Storable]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), Storable]
ShortText = Annotated[str, StringConstraints(max_length=200), Storable]
LongText = Annotated[str, StringConstraints(max_length=20_000), Storable]
Properties = Annotated[dict[str, Any], Storable]
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

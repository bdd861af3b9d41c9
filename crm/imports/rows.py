"""One pydantic model per importable entity: what a CSV row must hold, with the cleaning CSV cells need.

The vocabularies are the domain schemas' own (crm.schemas); the cleaning (websites to domains, headcounts
to size buckets, "$12,000" to 12000) is what CSV cells need before the domain services see them.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from crm.schemas.activities import ActivityType, Amount
from crm.schemas.companies import Lifecycle, Size
from crm.schemas.contacts import Stage
from crm.timestamps import bounded, bounded_date

CompanyLifecycle, CompanySize, ContactStage = Lifecycle, Size, Stage

DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9-]+)+$")
_SIZE_BUCKETS = [(10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000")]


def to_domain(value: str) -> str:
    """'https://www.Acme.com/about' -> 'acme.com': a Website column is read as the company's domain."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower()).split("/")[0].split("?")[0]
    host = host.split("@")[-1].split(":")[0].removeprefix("www.").rstrip(".")
    if not DOMAIN_RE.match(host) or len(host) > 253:
        raise ValueError(f"{value!r} is not a domain or website address")
    return host


def _size(value: Any) -> Any:
    """Headcounts ('35', '1,200') become the size bucket the schema keeps."""
    digits = str(value).replace(",", "").strip()
    if digits.isdigit():
        n = int(digits)
        return next((bucket for top, bucket in _SIZE_BUCKETS if n <= top), "1000+")
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower().replace(" ", "_").replace("-", "_") if isinstance(value, str) else value


def _money(value: Any) -> Any:
    """'$12,000.50' -> '12000.50': currency signs and thousands separators are formatting, not data."""
    return re.sub(r"[\s,$€£]", "", value) if isinstance(value, str) else value


Text200 = Annotated[str, StringConstraints(max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Domain = Annotated[str, BeforeValidator(to_domain)]
Money = Annotated[Decimal, BeforeValidator(_money), Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)]
Currency = Annotated[str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
                     StringConstraints(pattern=r"^[A-Z]{3}$")]
# The product's range (crm.timestamps), as the API's Timestamp / CalendarDate: naive = UTC.
Timestamp = Annotated[datetime, AfterValidator(bounded)]
CalendarDate = Annotated[date, AfterValidator(bounded_date)]


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("holds a NUL byte")
        return value


class CompanyRow(Row):
    name: Name
    domain: Domain | None = None
    industry: Text200 | None = None
    size: Annotated[CompanySize, BeforeValidator(_size)] | None = None
    lifecycle: Annotated[CompanyLifecycle, BeforeValidator(_lower)] | None = None
    customer_since: CalendarDate | None = None


class ContactRow(Row):
    email: EmailStr
    first_name: Text200 | None = None
    last_name: Text200 | None = None
    full_name: Annotated[str, StringConstraints(max_length=400)] | None = None
    phone: Text200 | None = None
    title: Text200 | None = None
    lead_source: Text200 | None = None
    lifecycle_stage: Annotated[ContactStage, BeforeValidator(_lower)] | None = None
    company_domain: Domain | None = None
    company_name: Text200 | None = None


class DealRow(Row):
    name: Name
    amount: Money | None = None
    currency: Currency | None = None
    pipeline: Text200 | None = None
    stage: Text200 | None = None
    expected_close_date: CalendarDate | None = None
    lost_reason: Text200 | None = None
    company_domain: Domain | None = None
    company_name: Text200 | None = None
    contact_email: EmailStr | None = None


class ActivityRow(Row):
    type: Annotated[ActivityType, BeforeValidator(_lower)]
    occurred_at: Timestamp
    subject: Text200 | None = None
    body: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    contact_email: EmailStr | None = None
    company_domain: Domain | None = None
    company_name: Text200 | None = None
    external_id: Text200 | None = None
    properties: dict[str, Any] | None = None
    amount: Annotated[Amount, BeforeValidator(_money)] | None = None   # rounded to cents, as the API does
    currency: Currency | None = None

    @field_validator("properties", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError("properties must be a JSON object, e.g. {\"page\": \"/pricing\"}") from exc
        return value

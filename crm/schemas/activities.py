from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from crm.schemas.base import LongText, Properties, ReadModel, RequestModel, ShortText, Timestamp
from crm.schemas.updates import UpdateModel

ActivityType = Literal["email_sent", "email_opened", "email_clicked", "email_replied", "call", "meeting",
                       "web_visit", "form_submit", "order", "support_ticket"]

MAX_AMOUNT = Decimal("999999999999.99")
CENT = Decimal("0.01")

# What an activity was worth (an order's value), in `currency`. Rounded half up to cents, as numeric(14,2) stores
# it, so that what a client reads back is what was stored; never negative (a refund is not an order).
Amount = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False),
                   AfterValidator(lambda v: v.quantize(CENT, rounding=ROUND_HALF_UP))]
# ISO 4217 style: three letters, stored upper-case ('eur' from another system is EUR). No default: a tenant
# has no currency of its own, so an amount sent without one keeps currency null.
ActivityCurrency = Annotated[str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
                             StringConstraints(pattern=r"^[A-Z]{3}$")]


class ActivityCreate(RequestModel):
    type: ActivityType
    occurred_at: Timestamp
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    subject: ShortText | None = None
    body: LongText | None = None
    properties: Properties = Field(default_factory=dict)
    amount: Amount | None = None
    currency: ActivityCurrency | None = None


class ActivityUpdate(UpdateModel):
    type: ActivityType = None
    occurred_at: Timestamp = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    subject: ShortText | None = None
    body: LongText | None = None
    properties: Properties = None
    amount: Amount | None = None
    currency: ActivityCurrency | None = None


class ActivityRead(ReadModel):
    type: str
    occurred_at: datetime
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    subject: str | None
    body: str | None
    properties: dict[str, Any]
    source: str
    external_id: str | None
    amount: Decimal | None
    currency: str | None

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from crm.schemas.base import LongText, Properties, ReadModel, RequestModel, ShortText, Timestamp
from crm.schemas.updates import UpdateModel

ActivityType = Literal["email_sent", "email_opened", "email_clicked", "email_replied", "call", "meeting",
                       "web_visit", "form_submit", "order", "support_ticket"]


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

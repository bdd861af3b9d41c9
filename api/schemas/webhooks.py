"""Schemas for `/webhooks`: subscriptions (the signing secret only in `WebhookIssued`, at creation and
rotation) and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from crm.schemas.base import ReadModel, RequestModel, ShortText, Storable

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000), Storable]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100), Storable]
EVENT_TYPES_HELP = ("Event types to receive: '*' for all, a type such as 'deal.updated' or 'lead_score.changed', "
                    "or a prefix such as 'deal.*'")


class WebhookCreate(RequestModel):
    url: Url = Field(description="http(s) endpoint; its host must resolve to public addresses only, unless "
                                 "the operator allows private targets")
    event_types: list[EventType] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50,
                                         description=EVENT_TYPES_HELP)
    description: ShortText = ""
    enabled: bool = True


class WebhookUpdate(RequestModel):
    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=50,
                                                description=EVENT_TYPES_HELP)
    description: ShortText | None = None
    enabled: bool | None = Field(default=None, description="true switches a disabled subscription on again and "
                                                           "resets its failure count; false pauses it")


class WebhookRead(ReadModel):
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    consecutive_failures: int = Field(description="failed delivery attempts in a row; any success resets it")
    disabled_reason: str | None = Field(description="why the subscription is off, when it is")
    disabled_at: datetime | None


class WebhookIssued(WebhookRead):
    secret: str = Field(description="signs every delivery (CRM-Signature); shown in this answer only: store it")


class WebhookList(BaseModel):
    data: list[WebhookRead]
    next_cursor: str | None = None


class DeliveryRead(ReadModel):
    subscription_id: uuid.UUID
    event_type: str
    idempotency_key: str
    payload: dict[str, Any]
    status: Literal["pending", "delivered", "failed", "dead"] = Field(
        description="pending: not attempted yet; failed: will be retried at next_attempt_at; dead: gave up")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    data: list[DeliveryRead]
    next_cursor: str | None = None


class PingQueued(BaseModel):
    delivery_id: uuid.UUID
    status: str = "pending"

"""`POST /api/v1/events`: a batch of activity events (email platform, web analytics, forms, orders).

Events land in `activities` through the activities service (crm.services.activities), exactly like
landing files, and reach the warehouse with the next extract. Each event is accepted, recognised as a
duplicate (same source and external_id as one already stored) or rejected with a reason; one bad event does
not sink the batch.
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import SessionDep, WriterDep
from api.idempotency import IdempotencyDep
from crm.schemas.activities import ActivityType
from crm.schemas.base import LongText, Properties, RequestModel, ShortText, StorableStr
from crm.services import activities

router = APIRouter(tags=["events"])
MAX_EVENTS = 1000


class EventIn(RequestModel):
    type: ActivityType
    # Bounded by the activities service (crm.timestamps, shared with landing files), not here: an event outside
    # the range is "rejected" with its reason while the rest of the batch is stored.
    occurred_at: datetime = Field(description="When it happened, from 1900-01-01 up to (not including) "
                                              "2100-01-01 UTC and at most a day ahead; naive = UTC")
    external_id: StorableStr = Field(min_length=1, max_length=200,
                                     description="Your id for the event: resends are ignored")
    source: StorableStr = Field(default="api", min_length=1, max_length=60, description="Which system sent it")
    contact_id: uuid.UUID | None = None
    contact_email: StorableStr | None = Field(default=None, max_length=320)
    company_id: uuid.UUID | None = None
    subject: ShortText | None = None
    body: LongText | None = None
    properties: Properties = Field(default_factory=dict)
    # Checked by the activities service, not here (like occurred_at's range): a negative amount or a currency
    # that is not three letters rejects that event with its reason, not the batch.
    amount: Decimal | None = Field(default=None, description="What it was worth (an order's value), rounded to "
                                   "cents; at least 0. Left out: properties.amount is used if it is a number")
    currency: StorableStr | None = Field(default=None, max_length=20,
                                         description="Three letters (ISO 4217, e.g. EUR) for amount; left out: "
                                                     "properties.currency, else none")


class EventBatch(RequestModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventOutcome(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    activity_id: uuid.UUID | None = None
    reason: str | None = None


class EventBatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventOutcome]


@router.post("/events", response_model=EventBatchResult, summary="Ingest a batch of activity events")
def ingest_events(batch: EventBatch, session: SessionDep, writer: WriterDep, idem: IdempotencyDep):
    return idem.respond(session, writer, 200, lambda: (_ingest(batch, session).model_dump(mode="json"), {}))


def _ingest(batch: EventBatch, session) -> EventBatchResult:
    raw = [e.model_dump(mode="json", exclude_none=True) for e in batch.events]
    # Stored in one global order (source, external_id): concurrent batches sharing resent events then wait on
    # each other's unique-index entries in the same order, instead of deadlocking (409 for a whole batch).
    order = sorted(range(len(raw)), key=lambda i: (raw[i]["source"], raw[i]["external_id"]))
    stored = dict(zip(order, activities.ingest(session, [raw[i] for i in order], default_source="api"), strict=True))
    outcomes = [EventOutcome(index=i, status=o.status, activity_id=o.activity_id, reason=o.reason)
                for i, o in sorted(stored.items())]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("accepted", "duplicate", "rejected")}
    return EventBatchResult(accepted=counts["accepted"], duplicates=counts["duplicate"], rejected=counts["rejected"],
                            results=outcomes)

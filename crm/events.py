"""Record events: the outbox (`record_events`, migration 0016) that workflows and webhooks consume.

Record writes put their events there themselves (`crm.services.changes.record`: `deal.updated`, ...). Signals
that are not a record write (`lead_score.changed`, `churn_risk.changed`, `sentiment.changed`) go through
`emit`, which queues the event on the session like a change: it is written with the transaction's other
events in one statement just before commit, and a rollback takes it away. Every insert sends
`NOTIFY crm_events, '<tenant_id>'` at commit (a trigger of the table).

A consumer takes events with `claim`: DELETE ... RETURNING of the oldest rows (`for update skip locked`, so
consumers share a tenant's events without waiting on each other), in the transaction that writes what it
makes of them; a rollback puts them back. There is one consumer of the outbox (the worker, which fans each
event out to workflow triggers and webhook deliveries): a deleted event is gone for everyone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.services.changes import as_json, queue

EVENTS_CHANNEL = "crm_events"
SIGNAL_TYPES = ("lead_score.changed", "churn_risk.changed", "sentiment.changed")


@dataclass(frozen=True)
class RecordEvent:
    tenant_id: uuid.UUID
    id: int
    event_type: str              # "<entity_type>.<created|updated|deleted>" or a signal ("lead_score.changed")
    entity_type: str             # singular: contact, company, deal, ...
    entity_id: uuid.UUID
    changes: dict[str, Any]      # field -> [old, new], JSON values
    actor_type: str
    actor_id: uuid.UUID | None
    occurred_at: datetime


def emit(session: Session, event_type: str, entity_type: str, entity_id: uuid.UUID,
         changes: dict[str, Any]) -> None:
    """Queue a non-record event (an AI signal) in the session's transaction, by the session's actor."""
    if "." not in event_type:
        raise ValueError(f"event type {event_type!r} is not '<subject>.<verb>' (e.g. 'lead_score.changed')")
    queue(session, audit=False, event_type=event_type, entity_type=entity_type, entity_id=entity_id,
          action=None, changes=as_json(changes))


_CLAIM = text("""
delete from record_events e
 using (select tenant_id, id from record_events order by id limit :limit for update skip locked) c
 where e.tenant_id = c.tenant_id and e.id = c.id
returning e.tenant_id, e.id, e.event_type, e.entity_type, e.entity_id, e.changes, e.actor_type, e.actor_id,
          e.occurred_at
""")


def claim(session: Session, limit: int = 100) -> list[RecordEvent]:
    """Take up to `limit` of the session's tenant's oldest events off the outbox, oldest first."""
    rows = session.execute(_CLAIM, {"limit": limit}).mappings().all()
    return sorted((RecordEvent(**row) for row in rows), key=lambda e: e.id)


def pending_tenants(session: Session) -> list[uuid.UUID]:
    """Tenants with events waiting: for an admin (cross-tenant) session; a tenant session sees its own."""
    return list(session.scalars(text("select distinct tenant_id from record_events")))

"""Reading the audit log (migration 0016; written by crm.services.changes): newest first, filtered, paged by id.

Read in the caller's tenant session, so RLS shows an agency its own entries only; another agency's record id
simply matches nothing. The API (`GET /api/v1/audit`) and the record pages' History panel read through here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.db.models import AuditEntry
from crm.services.changes import ENTITY_TYPES

ENTITY_LABELS = tuple(sorted(set(ENTITY_TYPES.values())))
ACTIONS = ("create", "update", "delete")


@dataclass(frozen=True)
class AuditQuery:
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    actor_type: str | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None     # occurred_at >= since
    until: datetime | None = None     # occurred_at < until
    before_id: int | None = None      # the cursor: entries older than this one


def entries(session: Session, query: AuditQuery, limit: int) -> list[AuditEntry]:
    """Up to `limit` entries matching `query`, newest first (by id: the order they were written)."""
    stmt = select(AuditEntry)
    for column, value in (("entity_type", query.entity_type), ("entity_id", query.entity_id),
                          ("actor_type", query.actor_type), ("actor_id", query.actor_id),
                          ("action", query.action)):
        if value is not None:
            stmt = stmt.where(getattr(AuditEntry, column) == value)
    if query.since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < query.until)
    if query.before_id is not None:
        stmt = stmt.where(AuditEntry.id < query.before_id)
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def history(session: Session, entity_type: str, entity_id: uuid.UUID, limit: int = 20) -> list[dict[str, Any]]:
    """A record's newest entries for its page: when, who, what, and each changed field as (field, old, new)."""
    return [{"occurred_at": e.occurred_at, "action": e.action, "actor_type": e.actor_type,
             "who": e.actor_label or e.actor_type.replace("_", " "),
             "fields": [(name, *_pair(value)) for name, value in sorted(e.changes.items())]}
            for e in entries(session, AuditQuery(entity_type=entity_type, entity_id=entity_id), limit)]


def _pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, list) and len(value) == 2:
        return value[0], value[1]
    return None, value

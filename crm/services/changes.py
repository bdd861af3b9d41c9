"""The one hook every service write passes through: `record(session, entity, id, action, changes)`.

This is where, in the write's own transaction, the audit entry and the change event (outbox) will be
written once their table exists (a later issue). Until then each change is collected on the session for
the transaction it belongs to (`recorded(session)`; emptied when the transaction commits or rolls back),
which is real and testable: every write path records each write exactly once, with the fields it really
changed (derived ones included, such as a deal's status) as `{field: [old, new]}`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.orm import Session

Action = Literal["create", "update", "delete"]
_KEY = "changes"


@dataclass(frozen=True)
class Change:
    entity: str                   # table name, e.g. "deals"
    id: uuid.UUID
    action: Action
    changes: dict[str, list[Any]] = field(default_factory=dict)   # field -> [old, new]


def record(session: Session, entity: str, id_: uuid.UUID, action: Action, changes: dict[str, list[Any]]) -> Change:
    change = Change(entity, id_, action, changes)
    session.info.setdefault(_KEY, []).append(change)
    return change


def recorded(session: Session) -> list[Change]:
    """The changes written through this session so far, oldest first."""
    return list(session.info.get(_KEY, []))


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_ended(session: Session) -> None:
    session.info.pop(_KEY, None)

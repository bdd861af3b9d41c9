"""The next best action for a company (account) or a contact (lead), with its reasons, each cited to its record.

`recommend(session, entity_type, entity_id)` reads the entity's signals in the caller's tenant session (scores
and their factors, open tasks, last touch, sentiment trend, stated concerns, open deals: `signals.py`), reads
them as cited reasons (`evidence.py`) and applies ordered, transparent rules (`rules.py`). Deterministic and
offline: the same records give the same recommendation. Another tenant's id raises `EntityNotFound`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from serving.insights import EntityNotFound
from serving.next_action.model import EntityType, Reason, Recommendation
from serving.next_action.rules import decide
from serving.next_action.signals import read_signals

__all__ = ["EntityNotFound", "EntityType", "Reason", "Recommendation", "recommend"]


def recommend(session: Session, entity_type: EntityType, entity_id: uuid.UUID | str,
              now: datetime | None = None) -> Recommendation:
    """The next best action for the tenant's company or contact `entity_id`, as of `now` (default: this instant)."""
    return decide(read_signals(session, entity_type, entity_id, now or datetime.now(UTC)))

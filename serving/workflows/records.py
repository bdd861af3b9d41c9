"""The records a trigger's conditions are evaluated on, loaded set-based (one query per entity type).

Conditions read the record as it is when the event is dispatched, as JSON (`to_jsonb` of the row: uuids and
timestamps as text, numbers as numbers). An AI signal adds what it measured beside the record's own fields
(`probability` and `tier` of a score change, `sentiment` and `label` of a sentiment change), so a condition can
read them too. A record deleted since (or a delete event) is seen as its values before the change.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.workflows.definition import conditions_hold

log = logging.getLogger(__name__)

# entity_type label -> table (the labels record_events and workflow runs use)
TABLES = {"contact": "contacts", "company": "companies", "deal": "deals", "activity": "activities",
          "note": "notes", "task": "tasks", "campaign": "campaigns", "pipeline": "pipelines"}
SIGNAL_EVENTS = ("lead_score.changed", "churn_risk.changed", "sentiment.changed")


def load_records(session: Session, entity_type: str, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """{id: row as JSON} for these ids of the session's tenant (absent: no such record, or not a table)."""
    table = TABLES.get(entity_type)
    ids = list(ids)
    if table is None or not ids:
        return {}
    rows = session.execute(text(f"select id, to_jsonb(t) as record from {table} t "
                                "where tenant_id = app_tenant_id() and id = any(cast(:ids as uuid[]))"),
                           {"ids": [str(i) for i in ids]})
    return {row.id: row.record for row in rows}


def condition_view(record: dict | None, event: Any | None = None) -> dict:
    """What a condition reads: the record, plus an AI signal's new values; without the record, the values
    the event says it had before the change."""
    changes = (event.changes if event is not None else None) or {}
    if record is None:
        record = {field: pair[0] for field, pair in changes.items() if isinstance(pair, list) and len(pair) == 2}
    else:
        record = dict(record)
    if event is not None and event.event_type in SIGNAL_EVENTS:
        for field, pair in changes.items():
            if isinstance(pair, list) and len(pair) == 2:
                record[field] = pair[1]
    return record


def conditions_pass(conditions: list, record: dict) -> bool:
    """The definition's conditions on this record; a condition that cannot be evaluated (a field of the
    wrong type) does not hold, and is logged, rather than stopping the tenant's dispatch."""
    try:
        return conditions_hold(conditions, record)
    except Exception:
        log.warning("workflow conditions %r could not be evaluated on a record; not started", conditions,
                    exc_info=True)
        return False

"""The one hook every service write passes through: `record(session, entity, id, action, changes)`.

Each change becomes, in the write's own transaction, one `audit_log` row (who, when, which record, the fields
`{field: [old, new]}`) and one `record_events` row (the outbox: `deal.updated`, ...), attributed to the
session's actor (`crm.services.actor`). They are not written one by one: the changes of a transaction wait
on the session and go to PostgreSQL in ONE statement just before it commits (a multi-row INSERT into both
tables from one JSON parameter), so a write costs one extra round trip whatever it changed, and a 10,000-row
CSV import a handful (a statement per `CHUNK` changes, written as they fill when no savepoint is open). An API
write makes that statement also read back the row it stored (`write_pending_and_select`): no extra trip at all.
Rows written by raw SQL inside a service are covered the same way, since the service calls `record`.

A rollback takes them with it: before commit nothing was written, and a savepoint rolled back (a refused
dashboard form) forgets the changes recorded inside it. `recorded(session)` lists the transaction's changes
as given (Python values), for tests and in-process readers; the stored copy holds them as JSON (uuids, times
and decimals as strings).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sqlalchemy import RowMapping, event, text
from sqlalchemy.orm import Session, SessionTransaction

from crm.services.actor import Actor, actor_of, request_id_of

Action = Literal["create", "update", "delete"]
_KEY, _OUTBOX, _MARKS = "changes", "outbox", "outbox_marks"
CHUNK = 5000   # changes per statement: a bounded parameter size however large the transaction

# Table name (what services pass) -> the singular entity label stored and published.
ENTITY_TYPES = {"companies": "company", "contacts": "contact", "deals": "deal", "activities": "activity",
                "notes": "note", "tasks": "task", "campaigns": "campaign", "pipelines": "pipeline",
                "pipeline_stages": "stage", "tenants": "tenant", "workflows": "workflow",
                "webhook_subscriptions": "webhook"}
PAST = {"create": "created", "update": "updated", "delete": "deleted"}


@dataclass(frozen=True)
class Change:
    entity: str                   # table name, e.g. "deals"
    id: uuid.UUID
    action: Action
    changes: dict[str, list[Any]] = field(default_factory=dict)   # field -> [old, new]


def entity_type_of(entity: str) -> str:
    """The singular label of a table name ('deals' -> 'deal'); a label is returned as it is."""
    return ENTITY_TYPES.get(entity, entity)


def _json_default(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def as_json(value: Any) -> Any:
    """`value` as its JSON form (uuid, datetime, Decimal -> strings), as the audit and event rows store it."""
    return json.loads(json.dumps(value, default=_json_default))


def record(session: Session, entity: str, id_: uuid.UUID, action: Action, changes: dict[str, list[Any]],
           actor: Actor | None = None) -> Change:
    """`actor`: who made this change, when not the session's actor (a set-based write on behalf of several,
    e.g. a batch of workflow runs, each its own actor)."""
    change = Change(entity, id_, action, changes)
    session.info.setdefault(_KEY, []).append(change)
    if action == "update" and not changes:   # nothing really changed: nothing to audit or announce
        return change
    label = entity_type_of(entity)
    queue(session, audit=True, event_type=f"{label}.{PAST[action]}", entity_type=label, entity_id=id_,
          action=action, changes=changes, actor=actor)
    return change


def queue(session: Session, *, audit: bool, event_type: str, entity_type: str, entity_id: uuid.UUID,
          action: Action | None, changes: dict[str, Any], actor: Actor | None = None) -> None:
    """Queue an outbox row (and its audit row when `audit`) for this transaction, by `actor` (default: the
    session's actor)."""
    actor = actor or actor_of(session)
    pending = session.info.setdefault(_OUTBOX, [])
    pending.append({"audit": audit, "event_type": event_type, "entity_type": entity_type,
                    "entity_id": entity_id, "action": action, "changes": changes, "actor_type": actor.type,
                    "actor_id": actor.id, "actor_label": actor.label, "request_id": request_id_of(session)})
    if len(pending) >= CHUNK and session.get_nested_transaction() is None:
        write_pending(session)


def recorded(session: Session) -> list[Change]:
    """The changes written through this session so far, oldest first."""
    return list(session.info.get(_KEY, []))


# One statement for the whole batch: both tables filled from one JSON array ({rows}), in the order recorded. Data-
# modifying CTEs run to completion whatever the statement's SELECT reads, so a write can append the SELECT it
# needs anyway (`write_pending_and_select`).
_CTES = """
batch as materialized (
  select * from jsonb_to_recordset(cast({rows} as jsonb)) as b(
    n integer, audit boolean, event_type text, entity_type text, entity_id uuid, action text, changes jsonb,
    actor_type text, actor_id uuid, actor_label text, request_id text)
), audited as (
  insert into audit_log (tenant_id, actor_type, actor_id, actor_label, entity_type, entity_id, action, changes,
                         request_id)
  select app_tenant_id(), actor_type, actor_id, actor_label, entity_type, entity_id, action, changes, request_id
    from batch where audit order by n
), published as (
  insert into record_events (tenant_id, event_type, entity_type, entity_id, changes, actor_type, actor_id)
  select app_tenant_id(), event_type, entity_type, entity_id, changes, actor_type, actor_id from batch order by n
)
"""
_WRITE = text("with " + _CTES.format(rows=":rows") + "select null")
_ROWS_PARAM = "changes_rows__"
_WITH_WRITE = "with " + _CTES.format(rows=f"%({_ROWS_PARAM})s")   # + a SELECT: write_pending_and_select


def _take_pending(session: Session) -> tuple[int, str] | None:
    """The queued audit and event rows as one JSON parameter (and how many), forgotten by the session."""
    pending = session.info.get(_OUTBOX)
    if not pending:
        return None
    rows = json.dumps([{"n": n, **row} for n, row in enumerate(pending)], default=_json_default)
    session.info[_OUTBOX] = []
    session.info.pop(_MARKS, None)   # (only written with no savepoint open: no mark can point past here)
    return len(pending), rows


def write_pending(session: Session) -> int:
    """Write the queued audit and event rows now, in one statement; how many were written."""
    taken = _take_pending(session)
    if taken is None:
        return 0
    session.execute(_WRITE, {"rows": taken[1]})
    return taken[0]


def write_pending_and_select(session: Session, select_sql: str, params: dict[str, Any]) -> list[RowMapping]:
    """Write the queued audit and event rows and run `select_sql` (one SELECT with psycopg's `%(name)s`
    parameters, no WITH of its own) in ONE statement; its rows, as the driver returns them. The SELECT sees
    everything the transaction's earlier statements wrote: an API write reads back the row it stored (server
    defaults, trigger-set stamps, xmin for its ETag) in the round trip that records it, instead of one more.
    Only with no savepoint open, as the commit-time write."""
    if session.get_nested_transaction() is not None:
        raise RuntimeError("write_pending_and_select with a savepoint open")
    session.flush()
    connection = session.connection()
    taken = _take_pending(session)
    if taken is None:
        return list(connection.exec_driver_sql(select_sql, params).mappings())
    return list(connection.exec_driver_sql(_WITH_WRITE + select_sql, {**params, _ROWS_PARAM: taken[1]}).mappings())


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = (len(session.info.get(_KEY, [])),
                                                                 len(session.info.get(_OUTBOX, [])))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """A savepoint rolled back: what was recorded inside it never happened."""
    if not previous_transaction.nested:
        return
    mark = session.info.get(_MARKS, {}).get(id(previous_transaction))
    if mark is not None:
        changes, outbox = mark
        del session.info.setdefault(_KEY, [])[changes:]
        del session.info.setdefault(_OUTBOX, [])[outbox:]


@event.listens_for(Session, "after_transaction_end")
def _savepoint_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(_MARKS, {}).pop(id(transaction), None)
    elif transaction.parent is None:
        _forget_all(session)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_ended(session: Session) -> None:
    _forget_all(session)


def _forget_all(session: Session) -> None:
    for key in (_KEY, _OUTBOX, _MARKS):
        session.info.pop(key, None)

"""What every service does with a row: find it, insert it, change it, delete it, each write recorded once
(`changes.record`), and the rule that a reference names a record of this tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy import insert as insert_rows
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm.db.engine import session_tenant
from crm.db.models import (
    Activity,
    Campaign,
    CampaignMember,
    Company,
    Contact,
    Deal,
    Note,
    Pipeline,
    PipelineStage,
    Task,
    User,
)
from crm.services.actor import Actor
from crm.services.changes import record
from crm.services.errors import InvalidReference, NotFound

LABELS: dict[type, str] = {Company: "company", Contact: "contact", Deal: "deal", Pipeline: "pipeline",
                           PipelineStage: "stage", Activity: "activity", Note: "note", Task: "task",
                           Campaign: "campaign", CampaignMember: "campaign member"}

# Reference fields and the record each names; the composite foreign keys (tenant_id, x_id) say the same,
# but only at flush and only as a constraint name: checked here first, the answer names the field.
REFERENCES: dict[str, type] = {"company_id": Company, "contact_id": Contact, "deal_id": Deal,
                               "campaign_id": Campaign, "owner_id": User, "assignee_id": User, "author_id": User}


def now(session: Session) -> datetime:
    """The transaction's clock, `now()`: every stamp one write sets reads the same instant."""
    return session.scalar(select(func.now()))


def find(session: Session, model: type, id_: uuid.UUID, *, lock: bool = False, for_delete: bool = False) -> Any:
    """The row, or NotFound (RLS hides other tenants' rows, so theirs and missing ones look alike).

    `lock`: FOR NO KEY UPDATE until commit, the lock its UPDATE takes anyway (rows that merely refer to it
    can still be inserted); `for_delete`: FOR UPDATE. A concurrent delete then makes this a NotFound."""
    mode = True if for_delete else {"key_share": True} if lock else None
    obj = session.get(model, id_, with_for_update=mode, populate_existing=mode is not None)
    if obj is None:
        raise NotFound(LABELS.get(model, model.__tablename__), id_)
    return obj


_BY_CONSTRAINTS = "references_by_constraints"


def leave_references_to_constraints(session: Session) -> None:
    """For a transaction that ends at its first refusal (one API write): `check_references` looks nothing up,
    and the composite foreign keys refuse a reference to no record of this tenant in the INSERT or UPDATE
    itself, which `errors.from_integrity_error` names as the same InvalidReference. One round trip and one
    loaded row less per referenced record. Not for a transaction that goes on after a refusal (a workflow
    batch, a dashboard form): a failed statement aborts the whole transaction."""
    session.info[_BY_CONSTRAINTS] = True


def check_references(session: Session, values: dict[str, Any]) -> None:
    if session.info.get(_BY_CONSTRAINTS):
        return
    for field, model in REFERENCES.items():
        value = values.get(field)
        if value is not None and session.get(model, value) is None:   # identity map first: loaded refs cost nothing
            raise InvalidReference(field)


def find_many(session: Session, model: type, ids: Sequence[uuid.UUID], *, lock: bool = False) -> dict[uuid.UUID, Any]:
    """{id: row} for these ids in one query, as `find` (NotFound for the first missing; `lock`: FOR NO KEY
    UPDATE, taken in id order so two set-based writers cannot deadlock on each other)."""
    wanted = sorted(set(ids))
    query = select(model).where(model.id.in_(wanted)).order_by(model.id)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    found = {obj.id: obj for obj in session.scalars(query)}
    for id_ in wanted:
        if id_ not in found:
            raise NotFound(LABELS.get(model, model.__tablename__), id_)
    return found


def check_references_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """`check_references` for many rows: the records named and not yet in the session are looked up in one
    query per kind (they stay loaded for as long as the caller keeps `rows`' write going)."""
    for field, model in REFERENCES.items():
        ids = {row[field] for row in rows if row.get(field) is not None}
        missing = [id_ for id_ in ids if session.identity_map.get(identity_key(model, id_)) is None]
        if missing:
            found = set(session.scalars(select(model.id).where(model.id.in_(missing))))
            if found != set(missing):
                raise InvalidReference(field)


def insert(session: Session, model: type, values: dict[str, Any]) -> Any:
    obj = model(id=uuid.uuid4(), tenant_id=session_tenant(session), **values)
    session.add(obj)
    session.flush()
    record(session, model.__tablename__, obj.id, "create", {k: [None, v] for k, v in values.items()})
    return obj


def insert_many(session: Session, model: type, rows: Sequence[dict[str, Any]],
                actors: Sequence[Actor | None] | None = None) -> list[uuid.UUID]:
    """`insert` for many rows in one statement (no objects loaded); their ids, in order. Each row's change is
    recorded as `insert` records it, by its actor in `actors` (None: the session's)."""
    tenant_id = session_tenant(session)
    ids = [uuid.uuid4() for _ in rows]
    if rows:
        session.execute(insert_rows(model), [{"id": id_, "tenant_id": tenant_id, **row}
                                             for id_, row in zip(ids, rows, strict=True)])
    for id_, row, actor in zip(ids, rows, actors or [None] * len(rows), strict=True):
        record(session, model.__tablename__, id_, "create", {k: [None, v] for k, v in row.items()}, actor=actor)
    return ids


def apply(session: Session, obj: Any, values: dict[str, Any], *, flush: bool = True,
          actor: Actor | None = None) -> Any:
    """Set `values` on the row; the change records the fields whose value really changed, as [old, new].
    `flush=False`: the caller flushes (a set-based write: one flush for all its rows)."""
    diff = {k: [getattr(obj, k), v] for k, v in values.items() if getattr(obj, k) != v}
    for key, value in values.items():
        setattr(obj, key, value)
    if flush:
        session.flush()
    record(session, obj.__tablename__, obj.id, "update", diff, actor=actor)
    return obj


def remove(session: Session, obj: Any) -> None:
    last = {c.key: [getattr(obj, c.key), None] for c in inspect(type(obj)).column_attrs if c.key != "tenant_id"}
    session.delete(obj)
    session.flush()
    record(session, obj.__tablename__, obj.id, "delete", last)

"""What every service does with a row: find it, insert it, change it, delete it, each write recorded once
(`changes.record`), and the rule that a reference names a record of this tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

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


def check_references(session: Session, values: dict[str, Any]) -> None:
    for field, model in REFERENCES.items():
        value = values.get(field)
        if value is not None and session.get(model, value) is None:   # identity map first: loaded refs cost nothing
            raise InvalidReference(field)


def insert(session: Session, model: type, values: dict[str, Any]) -> Any:
    obj = model(id=uuid.uuid4(), tenant_id=session_tenant(session), **values)
    session.add(obj)
    session.flush()
    record(session, model.__tablename__, obj.id, "create", {k: [None, v] for k, v in values.items()})
    return obj


def apply(session: Session, obj: Any, values: dict[str, Any]) -> Any:
    """Set `values` on the row; the change records the fields whose value really changed, as [old, new]."""
    diff = {k: [getattr(obj, k), v] for k, v in values.items() if getattr(obj, k) != v}
    for key, value in values.items():
        setattr(obj, key, value)
    session.flush()
    record(session, obj.__tablename__, obj.id, "update", diff)
    return obj


def remove(session: Session, obj: Any) -> None:
    last = {c.key: [getattr(obj, c.key), None] for c in inspect(type(obj)).column_attrs if c.key != "tenant_id"}
    session.delete(obj)
    session.flush()
    record(session, obj.__tablename__, obj.id, "delete", last)

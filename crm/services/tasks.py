"""Tasks: done_at is stamped when a task is ticked done and cleared when it is reopened."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from crm.db.models import Task
from crm.schemas.tasks import TaskCreate, TaskUpdate
from crm.services import records
from crm.services.actor import Actor
from crm.tenancy import Principal


def _done_stamp(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    if "is_done" not in values:
        return {}
    return {"done_at": records.now(session) if values["is_done"] else None}


def create(session: Session, payload: TaskCreate, actor: Principal | None = None) -> Task:
    values = payload.model_dump()
    records.check_references(session, values)
    return records.insert(session, Task, {**values, **_done_stamp(session, values)})


def create_many(session: Session, payloads: Sequence[TaskCreate],
                actors: Sequence[Actor | None] | None = None) -> list[uuid.UUID]:
    """`create` for many tasks: the same rules, references checked in one query per kind, one INSERT; each
    task's change recorded by its actor in `actors` (None: the session's). The new tasks' ids, in order."""
    rows = [payload.model_dump() for payload in payloads]
    records.check_references_many(session, rows)
    stamp = records.now(session) if any(row["is_done"] for row in rows) else None
    return records.insert_many(session, Task, [{**row, "done_at": stamp if row["is_done"] else None} for row in rows],
                               actors)


def update(session: Session, task: Task, changes: TaskUpdate) -> Task:
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    return records.apply(session, task, {**values, **_done_stamp(session, values)})


def delete(session: Session, task: Task) -> None:
    records.remove(session, task)

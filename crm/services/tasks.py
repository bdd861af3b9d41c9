"""Tasks: done_at is stamped when a task is ticked done and cleared when it is reopened."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm.db.models import Task
from crm.schemas.tasks import TaskCreate, TaskUpdate
from crm.services import records
from crm.tenancy import Principal


def _done_stamp(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    if "is_done" not in values:
        return {}
    return {"done_at": records.now(session) if values["is_done"] else None}


def create(session: Session, payload: TaskCreate, actor: Principal | None = None) -> Task:
    values = payload.model_dump()
    records.check_references(session, values)
    return records.insert(session, Task, {**values, **_done_stamp(session, values)})


def update(session: Session, task: Task, changes: TaskUpdate) -> Task:
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    return records.apply(session, task, {**values, **_done_stamp(session, values)})


def delete(session: Session, task: Task) -> None:
    records.remove(session, task)

"""create_task: a task about the run's record, for its owner, the next person in a round robin, or a named user."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm.db.models import User
from crm.schemas.tasks import TaskCreate
from crm.services import records, tasks
from crm.workflows.definition import CreateTaskParams, Step
from serving.workflows.context import RunContext, StepFailed
from serving.workflows.ledger import once

# The active user assigned least recently by a workflow (never first), oldest account breaking ties: each new
# task goes to the next person in turn. The per-tenant transaction lock makes concurrent runs take turns.
_ROUND_ROBIN = text("""
select u.* from users u
 where u.is_active
 order by (select max(t.created_at) from tasks t
            where t.tenant_id = u.tenant_id and t.assignee_id = u.id) asc nulls first, u.created_at, u.id
 limit 1
""")
_TURN_LOCK = text("select pg_advisory_xact_lock(hashtext('workflow_round_robin'), "
                  "hashtext(cast(app_tenant_id() as text)))")


def assignee(session: Session, rule: str | uuid.UUID, record: dict | None) -> tuple[User | None, str]:
    """(user, how it was chosen) for `owner` (of `record`, the run's record), `round_robin` or a user id. The user
    is loaded into the session, so the task service's reference check finds it there."""
    if isinstance(rule, uuid.UUID):
        user = session.scalars(select(User).where(User.id == rule, User.is_active)).first()
        if user is None:
            raise StepFailed(f"assignee {rule} is not an active user of this agency")
        return user, "named user"
    if rule == "owner":
        owner = (record or {}).get("owner_id")
        if owner is not None and (user := session.get(User, uuid.UUID(owner))) is not None:
            return user, "owner of the record"
    session.execute(_TURN_LOCK)
    user = session.scalars(select(User).from_statement(_ROUND_ROBIN)).first()
    return user, "round robin" if rule == "round_robin" else "round robin (the record has no owner)"


def create_for(session: Session, ctx: RunContext, title: str, description: str | None,
               due_in_minutes: int | None, rule: str | uuid.UUID) -> dict:
    """Create the task through the task service; what the step records as its output."""
    record = ctx.record(session)
    user, chosen_by = assignee(session, rule, record)
    links = {k: v for k, v in ctx.links(session, record).items() if v is not None}
    due_at = records.now(session) + timedelta(minutes=due_in_minutes) if due_in_minutes is not None else None
    task = tasks.create(session, TaskCreate(title=title, description=description, due_at=due_at,
                                            assignee_id=user.id if user else None, **links))
    return {"task_id": str(task.id), "assignee_id": str(user.id) if user else None, "assigned_by": chosen_by,
            "due_at": due_at.isoformat() if due_at else None}


def create_task(ctx: RunContext, step: Step) -> dict:
    params: CreateTaskParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"),
                lambda session, _: create_for(session, ctx, params.title, params.description,
                                              params.due_in_minutes, params.assignee))

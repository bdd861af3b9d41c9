"""create_task: a task about the run's record, for its owner, the next person in a round robin, or a named user.

One implementation for one task and for many (`create_tasks`: a batch's deferred create_task steps, set-based):
the runs' records read in one query per kind, the users named or owning them in one, the round robin read once,
the tasks written by `tasks.create_many`, each task's change recorded by its own run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm.db.models import User
from crm.schemas.tasks import TaskCreate
from crm.services import records, tasks
from crm.workflows.definition import CreateTaskParams, Step
from serving.workflows.context import RunContext, StepFailed, records_of
from serving.workflows.ledger import Deferred, once

# Active users, the one assigned least recently (never first) before the others, oldest account breaking ties:
# each new task goes to the next person in turn. The per-tenant transaction lock makes concurrent runs take turns.
_TURNS = text("""
select u.id from users u
 where u.is_active
 order by (select max(t.created_at) from tasks t
            where t.tenant_id = u.tenant_id and t.assignee_id = u.id) asc nulls first, u.created_at, u.id
""")
_TURN_LOCK = text("select pg_advisory_xact_lock(hashtext('workflow_round_robin'), "
                  "hashtext(cast(app_tenant_id() as text)))")


@dataclass(frozen=True)
class Wanted:
    ctx: RunContext
    title: str
    description: str | None
    due_in_minutes: int | None
    rule: str | uuid.UUID   # owner | round_robin | a user id


class _Turns:
    """The round robin within one transaction, as a queue in `_TURNS` order: whoever is given a task goes to its
    end, so a batch of tasks goes round the users in turn (the transaction's tasks all carry its `now()`, so
    `_TURNS` alone would see everyone equally recent once each had one)."""

    def __init__(self, session: Session):
        session.execute(_TURN_LOCK)
        self.queue = list(session.execute(_TURNS).scalars())

    def next(self) -> uuid.UUID | None:
        return self.queue[0] if self.queue else None

    def give(self, user_id: uuid.UUID) -> None:
        if user_id in self.queue:
            self.queue.remove(user_id)
            self.queue.append(user_id)


def assignees(session: Session, wanted: list[tuple[str | uuid.UUID, dict | None]]) -> list[tuple[uuid.UUID | None,
                                                                                                     str]]:
    """(user id, how it was chosen) for each (rule, the run's record): `owner` (of the record), `round_robin`
    or a user id (who must be active), in order, as if the tasks were created one after the other."""
    named = {rule for rule, _ in wanted if isinstance(rule, uuid.UUID)}
    owners = {uuid.UUID(str(owner)) for rule, record in wanted
              if rule == "owner" and (owner := (record or {}).get("owner_id")) is not None}
    users = dict(session.execute(select(User.id, User.is_active).where(User.id.in_(named | owners))).tuples().all()
                 ) if named or owners else {}
    turns: _Turns | None = None
    chosen: list[tuple[uuid.UUID | None, str]] = []
    for rule, record in wanted:
        if isinstance(rule, uuid.UUID):
            if not users.get(rule):
                raise StepFailed(f"assignee {rule} is not an active user of this agency")
            user, how = rule, "named user"
        else:
            owner = (record or {}).get("owner_id") if rule == "owner" else None
            user = uuid.UUID(str(owner)) if owner is not None and uuid.UUID(str(owner)) in users else None
            how = "owner of the record"
            if user is None:
                if turns is None:
                    turns = _Turns(session)
                    for earlier, _ in chosen:   # the tasks before this one count in the turns
                        if earlier is not None:
                            turns.give(earlier)
                user = turns.next()
                how = "round robin" if rule == "round_robin" else "round robin (the record has no owner)"
        if turns is not None and user is not None:
            turns.give(user)
        chosen.append((user, how))
    return chosen


def create_tasks(session: Session, wanted: list[Wanted]) -> list[dict[str, Any]]:
    """Create the tasks through the task service (one statement); what each step records as its output."""
    found = records_of(session, [w.ctx for w in wanted])
    chosen = assignees(session, [(w.rule, record) for w, record in zip(wanted, found, strict=True)])
    now = records.now(session) if any(w.due_in_minutes is not None for w in wanted) else None
    payloads, dues = [], []
    for w, record, (user, _) in zip(wanted, found, chosen, strict=True):
        links = {k: v for k, v in w.ctx.links(session, record).items() if v is not None}
        due_at = now + timedelta(minutes=w.due_in_minutes) if w.due_in_minutes is not None else None
        payloads.append(TaskCreate(title=w.title, description=w.description, due_at=due_at, assignee_id=user,
                                   **links))
        dues.append(due_at)
    ids = tasks.create_many(session, payloads, [w.ctx.actor for w in wanted])
    return [{"task_id": str(task_id), "assignee_id": str(user) if user else None, "assigned_by": how,
             "due_at": due_at.isoformat() if due_at else None}
            for task_id, (user, how), due_at in zip(ids, chosen, dues, strict=True)]


def create_for(session: Session, ctx: RunContext, title: str, description: str | None,
               due_in_minutes: int | None, rule: str | uuid.UUID) -> dict:
    """One task through the task service; what the step records as its output."""
    return create_tasks(session, [Wanted(ctx, title, description, due_in_minutes, rule)])[0]


def _many(session: Session, deferred: list[Deferred]) -> list[dict[str, Any]]:
    return create_tasks(session, [d.item for d in deferred])


def create_task(ctx: RunContext, step: Step) -> dict:
    params: CreateTaskParams = step.params
    wanted = Wanted(ctx, params.title, params.description, params.due_in_minutes, params.assignee)
    return once(ctx, step.id, params.model_dump(mode="json"), lambda session, _: create_tasks(session, [wanted])[0],
                many=_many, item=wanted)

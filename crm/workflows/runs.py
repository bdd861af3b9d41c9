"""Workflow runs: starting one (idempotent per trigger key) and reading one with its steps.

`start_run` inserts a queued run in the caller's tenant transaction, copying the workflow's definition onto the
run (a run keeps the graph it started with), and sends `NOTIFY crm_workflow_runs, '<tenant_id>'` (delivered at
commit) so a listening worker starts it at once. The unique (tenant, workflow, trigger key) makes a second start
for the same event / slot / spell a no-op that returns None. Runs are executed by `serving.workflows.runner`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from crm.db.models import WorkflowRun, WorkflowStepRun
from crm.services.errors import NotFound

CHANNEL = "crm_workflow_runs"
STATUSES = ("queued", "running", "waiting", "succeeded", "failed")
FINISHED = ("succeeded", "failed")

_START = text("""
insert into workflow_runs (tenant_id, workflow_id, trigger_key, trigger, entity_type, entity_id, definition)
select w.tenant_id, w.id, :key, cast(:trigger as jsonb), :entity_type, :entity_id, w.definition
  from workflows w where w.id = :workflow_id
on conflict (tenant_id, workflow_id, trigger_key) do nothing
returning id
""")
_START_MANY = text("""
insert into workflow_runs (tenant_id, workflow_id, trigger_key, trigger, entity_type, entity_id, definition)
select w.tenant_id, w.id, v.key, v.trigger, v.entity_type, v.entity_id, w.definition
  from jsonb_to_recordset(cast(:rows as jsonb))
       as v(workflow_id uuid, key text, trigger jsonb, entity_type text, entity_id uuid)
  join workflows w on w.id = v.workflow_id
on conflict (tenant_id, workflow_id, trigger_key) do nothing
returning id
""")
_WORKFLOW_EXISTS = text("select 1 from workflows where id = :workflow_id")
_NOTIFY = text(f"select pg_notify('{CHANNEL}', cast(app_tenant_id() as text))")


def start_run(session: Session, workflow_id: uuid.UUID | str, trigger_key: str, trigger: dict[str, Any],
              entity_type: str | None, entity_id: uuid.UUID | str | None, *, notify: bool = True) -> uuid.UUID | None:
    """Queue a run of the workflow (of the session's tenant) for `trigger_key`; None when that key already
    started one. NotFound when the workflow is not this tenant's. `notify=False`: the caller starting many runs
    in the transaction calls `notify_runs` once instead."""
    run_id = session.execute(_START, {"workflow_id": str(workflow_id), "key": trigger_key,
                                      "trigger": json.dumps(trigger, default=str), "entity_type": entity_type,
                                      "entity_id": str(entity_id) if entity_id is not None else None}).scalar()
    if run_id is None:
        if session.execute(_WORKFLOW_EXISTS, {"workflow_id": str(workflow_id)}).first() is None:
            raise NotFound("workflow", workflow_id)
        return None
    if notify:
        notify_runs(session)
    return run_id


def start_runs(session: Session, starts: list[tuple[uuid.UUID | str, str, dict[str, Any], str | None,
                                                  uuid.UUID | str | None]]) -> int:
    """`start_run` for many (workflow id, trigger key, trigger, entity type, entity id) in one statement, the
    workflows being the session's tenant's (others start nothing); how many runs were queued (a key that
    already started one starts none). The caller calls `notify_runs`."""
    if not starts:
        return 0
    rows = [{"workflow_id": str(workflow_id), "key": key, "trigger": trigger, "entity_type": entity_type,
             "entity_id": str(entity_id) if entity_id is not None else None}
            for workflow_id, key, trigger, entity_type, entity_id in starts]
    return len(session.execute(_START_MANY, {"rows": json.dumps(rows, default=str)}).all())


def notify_runs(session: Session) -> None:
    """Wake the listening workers at commit: runs of the session's tenant are queued."""
    session.execute(_NOTIFY)


def step_dict(step: WorkflowStepRun) -> dict[str, Any]:
    duration = ((step.finished_at - step.started_at).total_seconds() * 1000
                if step.finished_at is not None and step.started_at is not None else None)
    return {"step_id": step.step_id, "status": step.status, "input": step.input, "output": step.output,
            "started_at": step.started_at, "finished_at": step.finished_at, "duration_ms": duration,
            "error": step.error}


def run_dict(run: WorkflowRun) -> dict[str, Any]:
    return {"id": run.id, "workflow_id": run.workflow_id, "trigger_key": run.trigger_key, "trigger": run.trigger,
            "entity_type": run.entity_type, "entity_id": run.entity_id, "status": run.status,
            "resume_at": run.resume_at, "current_step": run.current_step, "error": run.error,
            "queued_at": run.queued_at, "started_at": run.started_at, "finished_at": run.finished_at}


def step_runs(session: Session, run_id: uuid.UUID | str) -> list[WorkflowStepRun]:
    """The steps a run reached, in the order they started."""
    return list(session.scalars(select(WorkflowStepRun).where(WorkflowStepRun.run_id == run_id)
                                .order_by(WorkflowStepRun.started_at, WorkflowStepRun.step_id)))


def get_run(session: Session, run_id: uuid.UUID | str, workflow_id: uuid.UUID | str | None = None) -> dict[str, Any]:
    """One run of the session's tenant with its steps (input, output, timing); NotFound otherwise (another
    agency's run is hidden by RLS and looks missing)."""
    run = session.get(WorkflowRun, uuid.UUID(str(run_id)))
    if run is None or (workflow_id is not None and str(run.workflow_id) != str(workflow_id)):
        raise NotFound("workflow run", run_id)
    return {**run_dict(run), "steps": [step_dict(s) for s in step_runs(session, run.id)]}


def list_runs(session: Session, workflow_id: uuid.UUID | str, limit: int = 50,
              before: tuple[datetime, uuid.UUID] | None = None) -> list[WorkflowRun]:
    """A page of one workflow's runs, newest first (keyset `before` = (queued_at, id) of the last row seen),
    on workflow_runs_history_idx."""
    query = select(WorkflowRun).where(WorkflowRun.workflow_id == workflow_id)
    if before is not None:
        query = query.where(tuple_(WorkflowRun.queued_at, WorkflowRun.id) < tuple_(*before))
    return list(session.scalars(query.order_by(WorkflowRun.queued_at.desc(), WorkflowRun.id.desc()).limit(limit)))

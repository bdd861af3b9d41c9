"""Exactly-once steps: a step's `workflow_step_runs` row is written in the transaction of its effect.

`once(ctx, step_id, input, effect, prepare)`:
1. `prepare()` runs outside any transaction: the slow part with no side effect (a chat model's answer, a draft),
   skipped when the step's row already says succeeded;
2. one tenant transaction, as the run's actor (`workflow_run`): claim the step's row (an upsert that takes the row
   unless it already succeeded), `effect(session, prepared)`, the row marked succeeded with the output and
   timing, the run's `current_step`; commit. A crash before the commit leaves nothing, after it the row: either
   way the effect happened at most once, and the next attempt finds the row. A step found succeeded returns its
   recorded output and does nothing (a resumed run, or a node LangGraph re-runs after a crash, repeats no effect
   and takes the same route).
A failure is recorded on the row (status failed, error) in a transaction of its own and raised as StepFailed.
Two workers on one step serialise on the row: the second waits for the first's commit and then finds it done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.db.engine import tenant_session
from crm.services.actor import set_actor
from serving.workflows.context import RunContext, StepFailed

_RECORDED = text("select status, output from workflow_step_runs where run_id = :run and step_id = :step")
_CLAIM = text("""
insert into workflow_step_runs (tenant_id, run_id, step_id, status, input, started_at)
values (app_tenant_id(), :run, :step, 'running', cast(:input as jsonb), clock_timestamp())
on conflict (tenant_id, run_id, step_id) do update
   set status = 'running', input = excluded.input, error = null,
       started_at = case when workflow_step_runs.status = 'waiting' then workflow_step_runs.started_at
                         else excluded.started_at end
 where workflow_step_runs.status <> 'succeeded'
returning 1
""")
_DONE = text("""
update workflow_step_runs
   set status = :status, output = cast(:output as jsonb),
       finished_at = case when :status = 'waiting' then null else clock_timestamp() end
 where run_id = :run and step_id = :step
""")
_CURRENT = text("update workflow_runs set current_step = :step where id = :run")
_DONE_AND_CURRENT = text(f"with done as ({_DONE.text}) {_CURRENT.text}")
_FAILED = text("""
insert into workflow_step_runs (tenant_id, run_id, step_id, status, input, error, started_at, finished_at)
values (app_tenant_id(), :run, :step, 'failed', cast(:input as jsonb), :error, clock_timestamp(), clock_timestamp())
on conflict (tenant_id, run_id, step_id) do update
   set status = 'failed', error = excluded.error, finished_at = excluded.finished_at
 where workflow_step_runs.status <> 'succeeded'
""")


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)


def recorded(ctx: RunContext, step_id: str) -> tuple[str, dict | None] | None:
    """(status, output) of the step's row, or None."""
    with tenant_session(ctx.tenant_id) as session:
        row = session.execute(_RECORDED, {"run": ctx.run_id, "step": step_id}).first()
    return (row.status, row.output) if row is not None else None


def once(ctx: RunContext, step_id: str, input: dict[str, Any],
         effect: Callable[[Session, Any], dict[str, Any]],
         prepare: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Run the step's effect exactly once for this run; its output (recorded, or new)."""
    if prepare is not None:   # a slow preparation is not repeated for a step already done
        prior = recorded(ctx, step_id)
        if prior is not None and prior[0] == "succeeded":
            return prior[1] or {}
    try:
        prepared = prepare() if prepare is not None else None
        with tenant_session(ctx.tenant_id) as session:
            set_actor(session, ctx.actor)
            params = {"run": ctx.run_id, "step": step_id}
            if session.execute(_CLAIM, {**params, "input": as_json(input)}).first() is None:
                done = session.execute(_RECORDED, params).first()   # another worker finished it meanwhile
                return (done.output if done is not None else None) or {}
            output = effect(session, prepared)
            session.execute(_DONE_AND_CURRENT, {**params, "status": "succeeded", "output": as_json(output)})
        return json.loads(as_json(output))   # what a resumed run reads back from the row
    except Exception as error:
        message = str(error) if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}"
        fail(ctx, step_id, input, message)
        raise StepFailed(message) from error


def fail(ctx: RunContext, step_id: str, input: dict[str, Any], message: str) -> None:
    with tenant_session(ctx.tenant_id) as session:
        session.execute(_FAILED, {"run": ctx.run_id, "step": step_id, "input": as_json(input), "error": message})


def mark(session: Session, ctx: RunContext, step_id: str, status: str, input: dict[str, Any],
         output: dict[str, Any] | None) -> None:
    """Write the step's row as `status` (a wait step's `waiting`, then `succeeded`), in `session`."""
    params = {"run": ctx.run_id, "step": step_id}
    session.execute(_CLAIM, {**params, "input": as_json(input)})
    session.execute(_DONE_AND_CURRENT, {**params, "status": status, "output": as_json(output)})

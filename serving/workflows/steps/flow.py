"""wait and branch: the steps that shape a run's path in time and in the graph.

wait: the first time, the step's row is written `waiting` with `resume_at` (= now + minutes, the database's
clock) and the run's `resume_at` set, then the node interrupts (LangGraph `interrupt`): the run is checkpointed
and the runner marks it waiting. When `resume_at` has come the runner resumes the graph with
`Command(resume=...)`; the node runs again from its start, finds its row, and `interrupt` now returns, so the
step is marked succeeded and the run goes on. A crash anywhere in between repeats nothing: the row says where
the wait stands.
branch: evaluates its conditions on the record as it is now; the outcome is recorded and routes the run.
"""

from __future__ import annotations

from langgraph.types import interrupt
from sqlalchemy import text

from crm.workflows.definition import BranchParams, Step, WaitParams, conditions_hold
from serving.workflows.context import RunContext
from serving.workflows.ledger import once, recorded

_SET_RESUME = text("""
update workflow_runs set resume_at = clock_timestamp() + make_interval(mins => :minutes) where id = :run
returning resume_at
""")


def wait(ctx: RunContext, step: Step) -> dict:
    params: WaitParams = step.params
    given = params.model_dump(mode="json")
    prior = recorded(ctx, step.id)
    if prior is not None and prior[0] == "succeeded":
        return prior[1] or {}
    if prior is not None and prior[0] == "waiting":
        resume_at = prior[1]["resume_at"]
    else:
        def begin(session, _) -> dict:
            at = session.execute(_SET_RESUME, {"minutes": params.minutes, "run": ctx.run_id}).scalar()
            return {"resume_at": at.isoformat()}

        resume_at = once(ctx, step.id, given, begin, status="waiting")["resume_at"]
    interrupt({"step": step.id, "resume_at": resume_at})   # returns only when the runner resumes the run
    return once(ctx, step.id, given, lambda session, _: {"resume_at": resume_at, "waited_minutes": params.minutes})


def branch(ctx: RunContext, step: Step) -> dict:
    params: BranchParams = step.params

    def decide(session, _):
        holds = conditions_hold(params.conditions, ctx.record(session) or {})
        return {"conditions_hold": holds, "next": params.then if holds else params.else_}

    return once(ctx, step.id, params.model_dump(mode="json", by_alias=True), decide)

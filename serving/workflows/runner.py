"""The runner: `run_due(limit)` executes queued runs, waiting runs whose `resume_at` has come, and runs whose
worker died, across agencies.

Ownership of a run is a PostgreSQL session advisory lock on its id, held on one connection of the executing
process for as long as it executes the run. A worker that dies (SIGKILL, a lost machine) loses its connection
and so the lock, and its `running` run becomes due again at once: the next pass resumes it from its last
checkpoint (LangGraph's PostgreSQL checkpointer, thread id = run id), and the steps it had finished are not run
again (their rows in `workflow_step_runs`, written with their effects, make a node LangGraph re-runs a no-op).

One pass:
1. the operator connection lists due runs by `workflow_runs_due_idx` (ids and tenant ids only: the one
   cross-tenant read, as in `crm.live_queue.pending_tenants`);
2. for each, take its advisory lock (skip it if another worker holds it), then in the run's tenant transaction
   claim it (`for update skip locked`, status → running);
3. invoke the graph: from the start (queued), from the checkpoint (a dead worker's run), or with
   `Command(resume=...)` (a wait that is due); then the run is `waiting` (with `resume_at`), `succeeded`, or
   `failed` with the step and error. A failing run never stops the pass. A finished run's checkpoints are
   deleted (its history is in `workflow_step_runs`); a waiting run's stay until it finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from langgraph.types import Command
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from crm.db.engine import admin_engine, app_engine, tenant_session
from serving.workflows.graph import StepError, checkpointer, compiled

log = logging.getLogger(__name__)
LOCK_CLASS = 7_214_018   # first key of every run's advisory lock (the second: hashtext(run id))

_DUE = text("""
select cast(tenant_id as text) as tenant_id, cast(id as text) as id from workflow_runs
 where status in ('queued', 'running', 'waiting') and coalesce(resume_at, queued_at) <= now()
 order by coalesce(resume_at, queued_at)
 limit :n
""")
_CLAIM = text("""
update workflow_runs r
   set status = 'running', started_at = coalesce(r.started_at, now()), error = null
  from (select id, status from workflow_runs
         where id = :id and (status in ('queued', 'running') or (status = 'waiting' and resume_at <= now()))
           for update skip locked) before
 where r.id = before.id
returning before.status as was, r.workflow_id, r.definition, r.trigger, r.entity_type, r.entity_id,
          (select w.name from workflows w where w.id = r.workflow_id) as workflow_name
""")
_WAITING = text("update workflow_runs set status = 'waiting', resume_at = cast(:resume_at as timestamptz), "
                "current_step = :step where id = :id")
_SUCCEEDED = text("update workflow_runs set status = 'succeeded', resume_at = null, finished_at = now() "
                  "where id = :id")
_FAILED = text("update workflow_runs set status = 'failed', resume_at = null, error = :error, finished_at = now(), "
               "current_step = coalesce(:step, current_step) where id = :id")


@dataclass
class Outcome:
    """What one execution of one run did (tests and the worker's log read it)."""
    run_id: str
    status: str
    executed: list[str] = field(default_factory=list)   # steps whose nodes ran in this execution
    error: str | None = None


def _initial_state(tenant_id: str, run_id: str, claim: Any) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "run_id": run_id, "workflow_id": str(claim.workflow_id),
            "workflow_name": claim.workflow_name or "", "entity_type": claim.entity_type,
            "entity_id": str(claim.entity_id) if claim.entity_id else None, "trigger": claim.trigger or {},
            "done": [], "routes": {}}


def _set(tenant_id: str, statement, **params) -> None:
    with tenant_session(tenant_id) as session:
        session.execute(statement, params)


def execute(tenant_id: str, run_id: str) -> Outcome | None:
    """Claim and execute one run (the caller holds its advisory lock); None when it was not due any more."""
    with tenant_session(tenant_id) as session:
        claim = session.execute(_CLAIM, {"id": run_id}).first()
    if claim is None:
        return None
    outcome = Outcome(run_id, "running")
    try:
        graph = compiled(claim.definition)
        config = {"configurable": {"thread_id": run_id}}
        if claim.was == "queued":   # never executed: no checkpoint to read
            return _stream(graph, config, _initial_state(tenant_id, run_id, claim), tenant_id, outcome)
        snapshot = graph.get_state(config)
        if snapshot.interrupts and claim.was == "running":
            # the worker died after a wait began and before it marked the run waiting: wait, do not resume
            pending = snapshot.interrupts[0].value
            _set(tenant_id, _WAITING, id=run_id, resume_at=pending["resume_at"], step=pending["step"])
            outcome.status = "waiting"
            return outcome
        if not snapshot.values:
            start: Any = _initial_state(tenant_id, run_id, claim)
        elif snapshot.interrupts:
            start = Command(resume={"resumed": True})
        elif snapshot.next:
            start = None   # continue from the last checkpoint
        else:
            start = None   # the graph had finished; only the run's status was not written
        return _stream(graph, config, start, tenant_id, outcome)
    except Exception as error:
        return _failed(tenant_id, outcome, error)


def _stream(graph, config: dict, start: Any, tenant_id: str, outcome: Outcome) -> Outcome:
    """Run the graph from `start` until it ends or waits; record the run's status."""
    run_id = outcome.run_id
    try:
        pending = None
        for chunk in graph.stream(start, config, durability="sync", stream_mode="updates"):
            if "__interrupt__" in chunk:
                pending = chunk["__interrupt__"][0].value
            outcome.executed += [node for node in chunk if node != "__interrupt__"]
        if pending is not None:
            _set(tenant_id, _WAITING, id=run_id, resume_at=pending["resume_at"], step=pending["step"])
            outcome.status = "waiting"
        else:
            _set(tenant_id, _SUCCEEDED, id=run_id)
            outcome.status = "succeeded"
            _forget(run_id)
        return outcome
    except Exception as error:
        return _failed(tenant_id, outcome, error)


def _forget(run_id: str) -> None:
    """A finished run's checkpoints are of no further use (its history is its step rows): one pipelined delete."""
    try:
        checkpointer().delete_thread(run_id)
    except Exception:   # left behind, they cost space, not correctness
        log.warning("could not delete the checkpoints of finished run %s", run_id, exc_info=True)


def _transient(error: BaseException | None) -> bool:
    """The database connection failing (a restart, a network cut), anywhere in the error's chain: not the run's
    fault, so it is not failed; it stays due and the next pass resumes it from its checkpoint."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError)):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _failed(tenant_id: str, outcome: Outcome, error: Exception) -> Outcome:
    if _transient(error):
        raise error
    step = error.step_id if isinstance(error, StepError) else None
    message = str(error) if isinstance(error, StepError) else f"{type(error).__name__}: {error}"
    log.warning("workflow run %s failed: %s", outcome.run_id, message, exc_info=not isinstance(error, StepError))
    _set(tenant_id, _FAILED, id=outcome.run_id, error=message[:4000], step=step)
    outcome.status, outcome.error = "failed", message
    _forget(outcome.run_id)
    return outcome


def due_runs(limit: int) -> list[tuple[str, str]]:
    """(tenant id, run id) of runs due now, the longest-due first (operator connection: ids only)."""
    with admin_engine().connect() as conn:
        return [(row.tenant_id, row.id) for row in conn.execute(_DUE, {"n": limit})]


def run_due(limit: int = 20) -> int:
    """Execute up to `limit` due runs (one after another); how many were executed."""
    return len(run_due_outcomes(limit))


def run_due_outcomes(limit: int = 20) -> list[Outcome]:
    # runs held by live workers are listed too (they look due): ask for some more than `limit`
    candidates = due_runs(limit * 2 + 8)
    outcomes: list[Outcome] = []
    if not candidates:
        return outcomes
    # autocommit: the advisory locks are session-level, and the connection must not sit in an open transaction
    with app_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as locks:
        try:
            for tenant_id, run_id in candidates:
                if len(outcomes) >= limit:
                    break
                key = {"k": LOCK_CLASS, "run": run_id}
                if not locks.execute(text("select pg_try_advisory_lock(:k, hashtext(:run))"), key).scalar():
                    continue   # another worker is executing it
                try:
                    outcome = execute(tenant_id, run_id)
                except Exception:   # the database connection failing: leave the run due, go on with the others
                    log.exception("workflow run %s could not be executed; it stays due", run_id)
                    outcome = None
                finally:
                    locks.execute(text("select pg_advisory_unlock(:k, hashtext(:run))"), key)
                if outcome is not None:
                    outcomes.append(outcome)
        finally:
            locks.execute(text("select pg_advisory_unlock_all()"))
    return outcomes


def run_until_idle(max_runs: int = 10_000) -> list[Outcome]:
    """Passes until nothing is due (tests, the demo): every outcome."""
    outcomes: list[Outcome] = []
    while len(outcomes) < max_runs and (batch := run_due_outcomes(20)):
        outcomes += batch
    return outcomes

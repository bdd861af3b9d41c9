"""The runner: `run_due(limit)` executes queued runs, waiting runs whose `resume_at` has come, and runs whose
worker died, across agencies, a batch per agency.

Ownership of a run is a PostgreSQL session advisory lock on its id, held on one connection of the executing
process for as long as it executes the run. A worker that dies (SIGKILL, a lost machine) loses its connection
and so the lock, and its `running` run becomes due again at once: the next pass executes it again, and the steps
it had finished are not run again (their rows in `workflow_step_runs`, written with their effects, make their
nodes no-ops that return the recorded output, so the run takes the same route to the step it reached).

One pass:
1. the operator connection lists due runs by `workflow_runs_due_idx` (ids and tenant ids only: the one
   cross-tenant read, as in `crm.live_queue.pending_tenants`);
2. per agency, the advisory locks of its runs are tried in one statement (runs another worker holds are
   skipped), and the runs are claimed in one statement, committed before the first round (`for update skip
   locked`, status -> running);
3. every run's graph is advanced one step per round, all runs of the batch in the round's transaction
   (`serving.workflows.batch`): from the start (queued, or no checkpoint), with `Command(resume=...)` (a wait
   that is due), or from its checkpoint. The set-based steps a round's nodes deferred are carried out at its
   end, a wave at a time (`ledger.run_deferred`). LangGraph takes a run's checkpoint when its graph stops
   (durability "exit"), and it is written only when the run stops at a wait, in the wait's round
   (`deferred_saver`): the resume needs it; a run that ends needs none (a graph without a wait has no
   checkpointer at all), and the checkpoints of a run that waited before are deleted when it ends (its history
   is its step rows). A run ends `waiting` (with `resume_at`), `succeeded`, or `failed`
   with the step and error; a failing run never stops the batch. A lost database connection is not a run's
   failure: the batch's open round is rolled back and its runs stay due.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command
from sqlalchemy import text

from crm.db.engine import admin_engine, app_engine
from serving.workflows.batch import Batch, active, connection_lost
from serving.workflows.context import MODELS
from serving.workflows.graph import StepError, checkpointer, compiled, forget
from serving.workflows.ledger import run_deferred

log = logging.getLogger(__name__)
LOCK_CLASS = 7_214_018   # first key of every run's advisory lock (the second: hashtext(run id))

_DUE = text("""
select cast(tenant_id as text) as tenant_id, cast(id as text) as id from workflow_runs
 where status in ('queued', 'running', 'waiting') and coalesce(resume_at, queued_at) <= now()
 order by coalesce(resume_at, queued_at)
 limit :n
""")
# tried in order until `n` are taken: runs other workers hold are skipped, not counted
_LOCK = text("select id from unnest(cast(:runs as text[])) as id where pg_try_advisory_lock(:k, hashtext(id)) "
             "limit :n")
_UNLOCK = text("select count(pg_advisory_unlock(:k, hashtext(id))) from unnest(cast(:runs as text[])) as id")
_CLAIM = text("""
with before as materialized (
  select id, status from workflow_runs
   where id = any(cast(:runs as uuid[]))
     and (status in ('queued', 'running') or (status = 'waiting' and resume_at <= now()))
     for update skip locked)
update workflow_runs r
   set status = 'running', started_at = coalesce(r.started_at, now()), error = null
  from before
 where r.id = before.id
returning cast(r.id as text) as id, before.status as was, r.workflow_id, r.definition, r.trigger, r.entity_type,
          r.entity_id, (select w.name from workflows w where w.id = r.workflow_id) as workflow_name
""")


@dataclass
class Outcome:
    """What one execution of one run did (tests and the worker's log read it)."""
    run_id: str
    status: str
    executed: list[str] = field(default_factory=list)   # steps carried out by this execution (not replayed)
    error: str | None = None


_UNSET = object()


class BatchLost(Exception):
    """The database connection failed under a batch: its open round was rolled back, its runs stay due."""


def _initial_state(tenant_id: str, claim: Any) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "run_id": claim.id, "workflow_id": str(claim.workflow_id),
            "workflow_name": claim.workflow_name or "", "entity_type": claim.entity_type,
            "entity_id": str(claim.entity_id) if claim.entity_id else None, "trigger": claim.trigger or {},
            "done": [], "routes": {}}


class _Run:
    """One run of a batch: its graph's stream, advanced a step at a time."""

    def __init__(self, batch: Batch, claim: Any):
        self.batch, self.claim = batch, claim
        self.final = False   # settled in a committed round
        self.stored = claim.was != "queued"   # it may have checkpoints in PostgreSQL
        self.begin: Any = _UNSET
        self.config: dict | None = None

    def start(self) -> None:
        """Open the graph's stream (nothing runs until the first round); or settle a run that must not move.
        Again after a spoiled round: the graph starts over from the same point (the same input, or the same
        checkpoint by its id, whatever was checkpointed since), and the steps committed meanwhile replay."""
        self.outcome = Outcome(self.claim.id, "running")
        self.pending: dict | None = None   # a wait's interrupt
        self.last: str | None = None       # the last step whose node ran
        self.stream = None
        graph, self.ends = compiled(self.claim.definition)
        if self.claim.was == "queued":   # whatever a spoiled round stored, it starts from its input
            checkpointer().fresh(self.claim.id)
        if self.begin is _UNSET:
            self.begin, self.config = self._origin(graph)
        if self.config is None:   # the worker died after a wait began, before it marked the run waiting
            pending = self.begin
            self.settle("waiting", pending["step"], resume_at=pending["resume_at"])
            return
        exit_only = {"durability": "exit"} if graph.checkpointer is not None else {}
        self.stream = iter(graph.stream(self.begin, self.config, stream_mode="updates", **exit_only))

    def _origin(self, graph) -> tuple[Any, dict | None]:
        """(what the graph starts from, its config); (the pending wait, None) for a run to leave waiting."""
        config = {"configurable": {"thread_id": self.claim.id}}
        if self.claim.was == "queued" or graph.checkpointer is None:   # no checkpoint to read (no wait: never any)
            return _initial_state(self.batch.tenant_id, self.claim), config
        snapshot = graph.get_state(config)
        if snapshot.interrupts and self.claim.was == "running":
            return snapshot.interrupts[0].value, None
        if snapshot.interrupts:
            return Command(resume={"resumed": True}), snapshot.config
        if snapshot.values and snapshot.next:
            return None, snapshot.config   # continue from the checkpoint
        return _initial_state(self.batch.tenant_id, self.claim), config

    def advance(self) -> bool:
        """One step of the graph in the batch's round; False when the run has reached its end or a wait."""
        try:
            chunk = next(self.stream, None)
            while chunk is not None and "__interrupt__" in chunk:
                # the graph stops at a wait: its exit (the checkpoint) belongs to this round, with the wait's row
                self.pending = chunk["__interrupt__"][0].value
                chunk = next(self.stream, None)
            if chunk is not None and list(chunk)[-1] in self.ends and self.pending is None:
                # nothing can follow this node: the graph's exit belongs to this round too (no round of its own)
                self.last = self._step_of(chunk)
                chunk = next(self.stream, None)
        except Exception as error:
            if connection_lost(error):
                raise BatchLost(str(error)) from error
            checkpointer().drop(self.claim.id)
            if not self.batch.spoiled:   # spoiled: the round is redone, this run with it
                self.fail(error)
            return False
        if chunk is not None:
            self.last = self._step_of(chunk)
            self.batch.status(self.claim.id, "running", self.last)
            return True
        if self.pending is not None:   # the resume starts from the interrupt's checkpoint
            checkpointer().keep(self.claim.id)
            self.stored = True
            self.settle("waiting", self.pending["step"], resume_at=self.pending["resume_at"])
        else:
            checkpointer().drop(self.claim.id)
            self.settle("succeeded", self.last)
        return False

    @staticmethod
    def _step_of(chunk: dict) -> str:
        """The last step of the node that ran (a node of several steps: its last)."""
        node, update = list(chunk.items())[-1]
        return ((update or {}).get("done") or [node])[-1]

    def fail(self, error: Exception) -> None:
        step = error.step_id if isinstance(error, StepError) else None
        message = str(error) if isinstance(error, StepError) else f"{type(error).__name__}: {error}"
        log.warning("workflow run %s failed: %s", self.claim.id, message, exc_info=not isinstance(error, StepError))
        self.settle("failed", step, error=message[:4000])

    def settle(self, status: str, step: str | None, resume_at: str | None = None, error: str | None = None) -> None:
        self.batch.status(self.claim.id, status, step, resume_at=resume_at, error=error)
        self.outcome.status, self.outcome.error = status, error
        self.stream = None


def _start(runs: list[_Run]) -> None:
    for run in runs:
        try:
            run.start()
        except Exception as error:
            if connection_lost(error):
                raise BatchLost(str(error)) from error
            run.fail(error)


def execute_batch(tenant_id: str, run_ids: list[str]) -> list[Outcome]:
    """Claim and execute these runs of one agency together (the caller holds their advisory locks); the
    outcomes of those that were still due. BatchLost when the database connection failed under it."""
    batch = Batch(tenant_id)
    with active(batch):
        try:
            claims = list(batch.session().execute(_CLAIM, {"runs": run_ids}))
            batch.load_prior([c.id for c in claims if c.was != "queued"])
            for claim in claims:
                if claim.entity_id is not None and claim.entity_type in MODELS:
                    batch.records.setdefault(MODELS[claim.entity_type], set()).add(str(claim.entity_id))
            batch.commit()   # claimed: a round redone later starts from here
            runs = [_Run(batch, claim) for claim in claims]
            _start(runs)
            moving = [run for run in runs if run.stream is not None]
            while moving:   # one round: every run one step further, then commit
                moving = [run for run in moving if run.advance() and not batch.spoiled]
                if not batch.spoiled:
                    run_deferred(batch)   # the steps the round's nodes left to its end, set-based
                if batch.spoiled:   # a step failed without a savepoint: the round again, with savepoints
                    batch.rollback()
                    batch.careful = True
                    redo = [run for run in runs if not run.final]
                    _start(redo)
                    moving = [run for run in redo if run.stream is not None]
                    continue
                batch.commit()
                for run in runs:
                    run.final = run.stream is None
            batch.commit()   # the statuses of runs that settled without a step
        except BaseException as error:
            batch.rollback()
            for run_id in run_ids:
                checkpointer().drop(run_id)
            if isinstance(error, Exception) and not isinstance(error, BatchLost) and connection_lost(error):
                raise BatchLost(str(error)) from error
            raise
    for run in runs:
        run.outcome.executed = batch.performed.get(run.claim.id, [])
    try:
        forget([run.claim.id for run in runs if run.stored and run.outcome.status in ("succeeded", "failed")])
    except Exception:   # left behind, they cost space, not correctness
        log.warning("could not delete the checkpoints of %d finished runs", len(runs), exc_info=True)
    return [run.outcome for run in runs]


def execute(tenant_id: str, run_id: str) -> Outcome | None:
    """Claim and execute one run (the caller holds its advisory lock); None when it was not due any more."""
    outcomes = execute_batch(tenant_id, [run_id])
    return outcomes[0] if outcomes else None


def due_runs(limit: int) -> list[tuple[str, str]]:
    """(tenant id, run id) of runs due now, the longest-due first (operator connection: ids only)."""
    with admin_engine().connect() as conn:
        return [(row.tenant_id, row.id) for row in conn.execute(_DUE, {"n": limit})]


def run_due(limit: int = 50) -> int:
    """Execute up to `limit` due runs (a batch per agency); how many were executed."""
    return len(run_due_outcomes(limit))


def run_due_outcomes(limit: int = 50) -> list[Outcome]:
    # runs held by live workers are listed too (they look due): ask for some more than `limit`
    candidates = due_runs(limit * 2 + 8)
    outcomes: list[Outcome] = []
    if not candidates:
        return outcomes
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for tenant_id, run_id in candidates:
        by_tenant[tenant_id].append(run_id)
    # autocommit: the advisory locks are session-level, and the connection must not sit in an open transaction
    with app_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as locks:
        try:
            for tenant_id, run_ids in by_tenant.items():
                if len(outcomes) >= limit:
                    break
                mine = list(locks.execute(_LOCK, {"k": LOCK_CLASS, "runs": run_ids,
                                                  "n": limit - len(outcomes)}).scalars())
                if not mine:
                    continue   # other workers are executing them
                try:
                    outcomes += execute_batch(tenant_id, mine)
                except BatchLost:   # leave the runs due, go on with the other agencies
                    log.exception("workflow runs of agency %s could not be executed; they stay due", tenant_id)
                finally:
                    locks.execute(_UNLOCK, {"k": LOCK_CLASS, "runs": mine})
        finally:
            locks.execute(text("select pg_advisory_unlock_all()"))
    return outcomes


def run_until_idle(max_runs: int = 10_000) -> list[Outcome]:
    """Passes until nothing is due (tests, the demo): every outcome."""
    outcomes: list[Outcome] = []
    while len(outcomes) < max_runs and (batch := run_due_outcomes(50)):
        outcomes += batch
    return outcomes

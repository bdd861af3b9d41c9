"""A batch: due runs of one agency executed together, step by step, one tenant transaction per step round.

The runner advances every run of the batch by one node (one LangGraph super-step), then commits: round k holds
node k of each run. Each run's step writes its effect and its `workflow_step_runs` row in the same transaction
(`ledger.once`; set-based steps deferred to the round's end, a wave and a commit per step position), so a run's
step is durable exactly when its row is: a worker killed in round k leaves rounds 1..k-1 committed and, of k,
the waves committed before it. A round starts without savepoints; a step that fails `spoil`s
it, the runner rolls it back (`rollback` also forgets what the batch learnt in it) and does it again `careful`ly,
with a savepoint around each step (`step`), so a failing step rolls back only its own work. The runs' statuses
(running with their current step, waiting, succeeded, failed) are written set-based at the end of the round, in
its transaction, and the records the runs are about are loaded into each round's session in one query per kind.

The batch also holds the step rows of its runs that existed before it started (read in one statement for the
runs that are not new), so a replayed step costs no round trip, and the steps this execution carried out.
`current()` is the batch of the step being run: the runner sets it around the graphs it advances.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from contextvars import ContextVar
from typing import Any

import psycopg
from sqlalchemy import select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from crm.db.engine import tenant_session

_active: ContextVar[Batch | None] = ContextVar("workflow_batch", default=None)

_PRIOR_ROWS = text("select cast(run_id as text) as run_id, step_id, status, output from workflow_step_runs "
                   "where run_id = any(cast(:runs as uuid[]))")
# One row per run whose state this round changed: `running` only moves current_step on.
_STATUSES = text("""
update workflow_runs r
   set status = v.status,
       current_step = coalesce(v.step, r.current_step),
       resume_at = case v.status when 'waiting' then v.resume_at when 'running' then r.resume_at end,
       error = case v.status when 'running' then r.error else v.error end,
       finished_at = case when v.status in ('succeeded', 'failed') then now() else r.finished_at end
  from jsonb_to_recordset(cast(:rows as jsonb)) as v(id uuid, status text, step text, resume_at timestamptz,
                                                   error text)
 where r.id = v.id
""")


class Batch:
    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        self.careful = False   # savepoint per step: after a step failed in this batch (see `spoil`)
        self.spoiled = False   # a step failed without a savepoint: the round must be rolled back and redone
        self._open: ExitStack | None = None
        self._session: Session | None = None
        self._prior: dict[tuple[str, str], tuple[str, Any]] = {}
        self._statuses: dict[str, dict[str, Any]] = {}
        self._written: list[tuple[str, str, tuple[str, Any] | None]] = []   # this round's rows, what was before
        self._performed: dict[str, list[str]] = {}
        self.performed: dict[str, list[str]] = {}   # run id -> steps carried out (committed) by this execution
        self.records: dict[type, set[str]] = {}     # model -> ids of the records the batch's runs are about
        self._loaded: list = []
        self._deferred: list = []   # steps left to the round's end (`ledger.Deferred`), in the order deferred

    # ---- the round's transaction --------------------------------------------------------------------------

    def session(self, records: bool = True) -> Session:
        """The round's tenant session (its transaction begins on first use), with the runs' records loaded
        unless `records` is False (set-based steps look records up in one query of their own)."""
        if self._session is None:
            self._open = ExitStack()
            self._session = self._open.enter_context(tenant_session(self.tenant_id))
            if records:
                self._load_records(self._session)
        return self._session

    def _load_records(self, session: Session) -> None:
        """The runs' records into the new session, one query per kind: the services' lookups of them by id
        (a reference check, a find) are then answered by the session, not by a round trip each. What a step
        reads as the record's current value (`RunContext.record`) is still read from the database."""
        # the session maps loaded rows weakly: the round keeps them referenced for as long as it lasts
        self._loaded = [row for model, ids in self.records.items()
                        for row in session.scalars(select(model).where(model.id.in_(ids)))]

    def commit(self, statuses: bool = True) -> None:
        """Write the statuses gathered (unless `statuses` is False: a wave of deferred steps within the round),
        commit the round (nothing to do when it wrote nothing)."""
        if self._statuses and statuses:
            rows = json.dumps(list(self._statuses.values()), default=str)
            self.session(records=False).execute(_STATUSES, {"rows": rows})
            self._statuses.clear()
        if self._open is not None:
            stack, self._open, self._session, self._loaded = self._open, None, None, []
            stack.close()
        for run_id, steps in self._performed.items():
            self.performed.setdefault(run_id, []).extend(steps)
        self._performed.clear()
        self._written.clear()

    def rollback(self) -> None:
        """Abandon the round: its transaction, and what the batch learnt from it."""
        for run_id, step_id, before in reversed(self._written):
            if before is None:
                self._prior.pop((run_id, step_id), None)
            else:
                self._prior[(run_id, step_id)] = before
        self._written.clear()
        self._performed.clear()
        self._statuses.clear()
        self._deferred.clear()
        self.spoiled = False
        if self._open is not None:
            stack, self._open, self._session, self._loaded = self._open, None, None, []
            with suppress(Exception):   # a lost connection: nothing to roll back
                stack.__exit__(RuntimeError, RuntimeError("batch abandoned"), None)   # the transaction rolls back

    def step(self) -> AbstractContextManager:
        """Around one step's writes: a savepoint when the batch is careful, else nothing (a failure spoils the
        round, which the runner redoes with savepoints)."""
        return self.session().begin_nested() if self.careful else nullcontext()

    def spoil(self) -> None:
        self.spoiled = True

    def defer(self, deferred: Any) -> None:
        self._deferred.append(deferred)

    def take_deferred(self) -> list:
        taken, self._deferred = self._deferred, []
        return taken

    # ---- step rows ---------------------------------------------------------------------------------------

    def load_prior(self, run_ids: list[str]) -> None:
        """Remember the step rows these runs already have (runs that executed before)."""
        if run_ids:
            for row in self.session().execute(_PRIOR_ROWS, {"runs": run_ids}):
                self._prior[(row.run_id, row.step_id)] = (row.status, row.output)

    def recorded(self, run_id: str, step_id: str) -> tuple[str, Any] | None:
        """(status, output) of the step's row as this batch knows it, or None."""
        return self._prior.get((run_id, step_id))

    def remember(self, run_id: str, step_id: str, status: str, output: Any) -> None:
        self._written.append((run_id, step_id, self._prior.get((run_id, step_id))))
        self._prior[(run_id, step_id)] = (status, output)
        if status == "succeeded":
            self._performed.setdefault(run_id, []).append(step_id)

    # ---- run statuses, written at the round's end ---------------------------------------------------------

    def status(self, run_id: str, status: str, step: str | None = None, resume_at: str | None = None,
               error: str | None = None) -> None:
        self._statuses[run_id] = {"id": run_id, "status": status, "step": step, "resume_at": resume_at,
                                  "error": error}


def connection_lost(error: BaseException | None) -> bool:
    """The database connection failing (a restart, a network cut), anywhere in the error's chain: not a run's
    fault, so it is not failed; it stays due and the next pass resumes it."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError)):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def current() -> Batch:
    batch = _active.get()
    if batch is None:
        raise RuntimeError("a workflow step runs inside the runner's batch (serving.workflows.runner)")
    return batch


@contextmanager
def active(batch: Batch) -> Iterator[Batch]:
    token = _active.set(batch)
    try:
        yield batch
    finally:
        _active.reset(token)

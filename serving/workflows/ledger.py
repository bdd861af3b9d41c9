"""Exactly-once steps: a step's `workflow_step_runs` row is written in the transaction of its effect.

`once(ctx, step_id, input, effect, prepare)`, inside the runner's batch (`serving.workflows.batch`):
1. a step whose row says succeeded returns its recorded output and does nothing: a resumed run, or a run
   re-executed from its start after a crash, repeats no effect and takes the same route;
2. `prepare()`, the slow part with no side effect (a chat model's answer, a draft), runs after the round's
   transaction is committed, so no transaction is held open while a model answers;
3. in the round's transaction, as the run's actor (`workflow_run`): `effect(session, prepared)`, then the step's
   row upserted as succeeded with input, output and timing. The upsert takes the row unless it already says
   succeeded; if it does (another worker recorded the step meanwhile: the unique row made this one wait for its
   commit), this effect must not stay. The round commits the effect and its row together: a crash before the
   commit leaves neither, after it both.
A failing step must leave no trace but its failure, and the other runs' steps must stay. A batch starts without
savepoints (two round trips a step saved); the first failure, or an effect to undo, spoils the round: the runner
rolls it back and does it again with a savepoint around each step (`Batch.step`), where a failing effect rolls
back its savepoint only, the failure is recorded on the row (status failed, error) in the round's transaction
and raised as StepFailed, and the other runs of the batch go on. A failing preparation has written nothing: its
failure is recorded at once.

Set-based steps. A step with a set-based form (`many`: create_task, add_note, update_field) is not carried out
by its node in a batch's fast rounds: `once` defers it to the batch (`Deferred`) and the node goes on. At the
round's end `run_deferred` carries out the deferred steps of all the batch's runs a wave at a time (wave k: the
k-th deferred step of each run, so a run's steps keep their order and each sees the effects of the one before):
per wave, one set-based effect per kind of step (`many(session, deferred)`, through the services' set-based
writes, each change recorded by its own run's actor) and the steps' rows in one upsert, then the wave commits
(the last one with the round). A step already recorded by another execution, or any error, spoils the round:
it is redone carefully, where `once` carries out each step itself, with its savepoint, as above.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.services.actor import set_actor
from serving.workflows.batch import Batch, connection_lost, current
from serving.workflows.context import RunContext, StepFailed

_RECORDED = text("select status, output from workflow_step_runs where run_id = :run and step_id = :step")
_RECORD = text("""
insert into workflow_step_runs (tenant_id, run_id, step_id, status, input, output, started_at, finished_at)
values (app_tenant_id(), :run, :step, :status, cast(:input as jsonb), cast(:output as jsonb), :started,
        case when :status = 'waiting' then null else clock_timestamp() end)
on conflict (tenant_id, run_id, step_id) do update
   set status = excluded.status, input = excluded.input, output = excluded.output, error = null,
       started_at = case when workflow_step_runs.status = 'waiting' then workflow_step_runs.started_at
                         else excluded.started_at end,
       finished_at = excluded.finished_at
 where workflow_step_runs.status <> 'succeeded'
returning 1
""")
_FAILED = text("""
insert into workflow_step_runs (tenant_id, run_id, step_id, status, input, error, started_at, finished_at)
values (app_tenant_id(), :run, :step, 'failed', cast(:input as jsonb), :error, :started, clock_timestamp())
on conflict (tenant_id, run_id, step_id) do update
   set status = 'failed', error = excluded.error, finished_at = excluded.finished_at
 where workflow_step_runs.status <> 'succeeded'
""")


# The rows of a wave of set-based steps: as _RECORD, for many; one row back per row taken.
_RECORD_MANY = text("""
insert into workflow_step_runs (tenant_id, run_id, step_id, status, input, output, started_at, finished_at)
select app_tenant_id(), v.run_id, v.step_id, 'succeeded', v.input, v.output, v.started, clock_timestamp()
  from jsonb_to_recordset(cast(:rows as jsonb)) as v(run_id uuid, step_id text, input jsonb, output jsonb,
                                                   started timestamptz)
on conflict (tenant_id, run_id, step_id) do update
   set status = excluded.status, input = excluded.input, output = excluded.output, error = null,
       started_at = case when workflow_step_runs.status = 'waiting' then workflow_step_runs.started_at
                         else excluded.started_at end,
       finished_at = excluded.finished_at
 where workflow_step_runs.status <> 'succeeded'
returning 1
""")


@dataclass(frozen=True)
class Deferred:
    """A step of a run left to the round's end, to be carried out with the same kind of step of other runs."""
    ctx: RunContext
    step_id: str
    input: dict[str, Any]
    started: datetime
    many: Callable[[Session, list[Deferred]], list[dict[str, Any]]]   # the set-based effect: an output each
    # (a module's function: deferred steps with the same `many` are carried out together)
    item: Any                                                         # what `many` needs of this step


class _AlreadyRecorded(Exception):
    """Another execution recorded this step first: roll this one's effect back."""


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)


def recorded(ctx: RunContext, step_id: str) -> tuple[str, dict | None] | None:
    """(status, output) of the step's row, or None."""
    return current().recorded(ctx.run_id, step_id)


def once(ctx: RunContext, step_id: str, input: dict[str, Any],
         effect: Callable[[Session, Any], dict[str, Any]],
         prepare: Callable[[], Any] | None = None, status: str = "succeeded",
         many: Callable[[Session, list[Deferred]], list[dict[str, Any]]] | None = None,
         item: Any = None) -> dict[str, Any]:
    """Run the step's effect exactly once for this run; its output (recorded, or new). `status` waiting: the
    row records a wait that began (its effect sets the run's resume_at), and a later `once` completes it.
    `many` (with `item`): the step's set-based form; in a fast round the step is deferred to the round's end
    and `once` returns {} (its output is recorded then; only routing steps read it at once, and they have none)."""
    batch = current()
    prior = batch.recorded(ctx.run_id, step_id)
    if prior is not None and prior[0] == "succeeded":
        return prior[1] or {}
    started = datetime.now(UTC)
    if many is not None and prepare is None and status == "succeeded" and not batch.careful:
        batch.defer(Deferred(ctx, step_id, input, started, many, item))
        return {}
    if prepare is not None:
        batch.commit()   # what the round did so far is durable; no transaction waits on the preparation
        try:
            prepared = prepare()
        except Exception as error:   # nothing written since the commit: the failure can be recorded as is
            raise _failed(batch, ctx, step_id, input, started, error) from error
    else:
        prepared = None
    try:
        session = batch.session()
        set_actor(session, ctx.actor)
        with batch.step():
            output = json.loads(as_json(effect(session, prepared)))   # as a resumed run reads it back
            if not _record(session, ctx, step_id, status, input, output, started):
                raise _AlreadyRecorded
        batch.remember(ctx.run_id, step_id, status, output)
        return output
    except _AlreadyRecorded:
        if not batch.careful:   # this effect is in the round: the round is redone with savepoints
            batch.spoil()
            raise StepFailed("recorded by another execution meanwhile") from None
        row = session.execute(_RECORDED, {"run": ctx.run_id, "step": step_id}).first()
        return (row.output if row is not None else None) or {}
    except Exception as error:
        if not batch.careful:   # what the effect wrote cannot be told apart: the round is redone with savepoints
            batch.spoil()
            raise StepFailed(_message(error)) from error
        raise _failed(batch, ctx, step_id, input, started, error) from error


def _message(error: Exception) -> str:
    return str(error) if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}"


def _failed(batch, ctx: RunContext, step_id: str, input: dict[str, Any], started: datetime,
            error: Exception) -> StepFailed:
    """Record the step's failure on its row, in the round; the StepFailed to raise."""
    message = _message(error)
    batch.session().execute(_FAILED, {"run": ctx.run_id, "step": step_id, "input": as_json(input),
                                      "error": message, "started": started})
    return StepFailed(message)


def _record(session: Session, ctx: RunContext, step_id: str, status: str, input: dict[str, Any],
            output: dict[str, Any] | None, started: datetime) -> bool:
    """Upsert the step's row as `status`; False when it already said succeeded."""
    return session.execute(_RECORD, {"run": ctx.run_id, "step": step_id, "status": status, "input": as_json(input),
                                     "output": as_json(output), "started": started}).first() is not None


def run_deferred(batch: Batch) -> None:
    """Carry out the round's deferred steps, a wave at a time (see the module's docstring). Every wave but the
    last commits; the last is left to the round's commit. A failure spoils the round (a lost connection is
    raised: the runner leaves the batch's runs due)."""
    by_run: dict[str, list[Deferred]] = {}
    for deferred in batch.take_deferred():
        by_run.setdefault(deferred.ctx.run_id, []).append(deferred)
    waves = [[d for d in wave if d is not None] for wave in zip_longest(*by_run.values())]
    for n, wave in enumerate(waves):
        try:
            outputs = _carry_out(batch.session(records=False), wave)
        except Exception as error:
            if connection_lost(error):
                raise
            batch.spoil()
            return
        for deferred, output in zip(wave, outputs, strict=True):
            batch.remember(deferred.ctx.run_id, deferred.step_id, "succeeded", output)
        if n < len(waves) - 1:
            batch.commit(statuses=False)


def _carry_out(session: Session, wave: list[Deferred]) -> list[dict[str, Any]]:
    """One wave: each kind's set-based effect, then every step's row; the outputs, in the wave's order."""
    kinds: dict[Callable, list[int]] = {}
    for n, deferred in enumerate(wave):
        kinds.setdefault(deferred.many, []).append(n)
    outputs: list[dict[str, Any]] = [{}] * len(wave)
    for many, positions in kinds.items():
        for n, output in zip(positions, many(session, [wave[n] for n in positions]), strict=True):
            outputs[n] = json.loads(as_json(output))   # as a resumed run reads it back
    rows = [{"run_id": d.ctx.run_id, "step_id": d.step_id, "input": d.input, "output": output, "started": d.started}
            for d, output in zip(wave, outputs, strict=True)]
    if len(session.execute(_RECORD_MANY, {"rows": as_json(rows)}).all()) != len(wave):
        raise _AlreadyRecorded   # some step was recorded by another execution meanwhile: redone carefully
    return outputs

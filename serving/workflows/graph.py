"""A workflow definition as a LangGraph `StateGraph`, with the durable PostgreSQL checkpointer if it has a wait.

One node per step, except that set-based steps (create_task, add_note, update_field) that follow one another,
each the only way into the next, are one node named after the first (`nodes`): a run takes one super-step for
them, and in a batch's fast round they are deferred and carried out at the round's end in order
(`ledger.run_deferred`), each step still with its own row and its own commit, so a run killed among them resumes
at the step it reached. A step's `next` is an edge (None: END); `branch` and `ai_decision` are conditional edges
reading the route their node recorded in the state. The state is small and typed: who the run is (ids, the
trigger) plus the steps done and the routes taken, so a checkpoint holds no CRM data beyond ids. The thread id
is the run id: the runner resumes a run from its last checkpoint, whatever process wrote it.

The checkpointer connects through a small pool with `role=crm_workflow` into schema `workflow_state`
(`crm.workflows.checkpoints`): the tables were created by migration 0018, so no DDL happens here. Compiled
graphs are cached per definition (its canonical JSON), so a busy workflow is compiled once per process.
"""

from __future__ import annotations

import atexit
import json
import operator
import threading
from functools import lru_cache
from typing import Annotated, Any, NamedTuple, TypedDict

from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from crm.db.engine import admin_url
from crm.workflows.checkpoints import checkpointer_conninfo
from crm.workflows.definition import ROUTING, Step, WorkflowDefinition, parse_definition
from serving.workflows.context import RunContext, StepFailed
from serving.workflows.deferred_saver import DeferredSaver
from serving.workflows.steps import SET_BASED, STEPS


class StepError(Exception):
    """A step failed: the run fails with this step and message."""

    def __init__(self, step_id: str, message: str):
        super().__init__(f'step "{step_id}": {message}')
        self.step_id = step_id


def _merge(left: dict, right: dict) -> dict:
    return {**(left or {}), **(right or {})}


class RunState(TypedDict, total=False):
    tenant_id: str
    run_id: str
    workflow_id: str
    workflow_name: str
    entity_type: str | None
    entity_id: str | None
    trigger: dict[str, Any]
    done: Annotated[list[str], operator.add]           # steps finished, in order
    routes: Annotated[dict[str, str | None], _merge]   # routing step -> the step it chose (None: the end)


def _node(steps: list[Step]):
    """The node of one step, or of a run of set-based steps (carried out in order; a failure names its step)."""
    runs = [(step, STEPS[step.type]) for step in steps]

    def node(state: RunState) -> dict:
        ctx = RunContext.from_state(state)
        for step, run_step in runs:
            try:
                output = run_step(ctx, step)
            except GraphBubbleUp:   # a wait's interrupt: not a failure
                raise
            except Exception as error:
                raise StepError(step.id, str(error) if isinstance(error, StepFailed) else
                                f"{type(error).__name__}: {error}") from error
        update: dict[str, Any] = {"done": [step.id for step in steps]}
        if steps[-1].type in ROUTING:
            update["routes"] = {steps[-1].id: output.get("next")}
        return update

    node.__name__ = f"step_{steps[0].id}"
    return node


def nodes(definition: WorkflowDefinition) -> list[list[Step]]:
    """The graph's nodes as their steps: a step alone, or set-based steps one after the other where each is the
    only way into the next (a node is named after its first step, so a routing target or the step after a wait
    always starts one)."""
    by_id = {step.id: step for step in definition.steps}
    into: dict[str, int] = {}
    for step in definition.steps:
        for target in step.successors():
            if target is not None:
                into[target] = into.get(target, 0) + 1
    joined = {step.next for step in definition.steps
              if step.type in SET_BASED and step.next is not None and by_id[step.next].type in SET_BASED
              and into[step.next] == 1 and step.next != definition.steps[0].id}
    result = []
    for step in definition.steps:
        if step.id in joined:
            continue
        chain = [step]
        while chain[-1].next in joined:
            chain.append(by_id[chain[-1].next])
        result.append(chain)
    return result


def _router(step: Step):
    def route(state: RunState) -> str:
        return state.get("routes", {}).get(step.id) or END
    return route


def build_graph(definition: WorkflowDefinition) -> StateGraph:
    graph = StateGraph(RunState)
    chains = nodes(definition)
    for chain in chains:
        graph.add_node(chain[0].id, _node(chain))
    graph.add_edge(START, definition.steps[0].id)
    for chain in chains:
        last = chain[-1]
        if last.type in ROUTING:
            targets = {target: target for target in last.successors() if target is not None}
            graph.add_conditional_edges(chain[0].id, _router(last), {**targets, END: END})
        else:
            graph.add_edge(chain[0].id, last.next or END)
    return graph


_pool_lock = threading.Lock()
_pool = None    # psycopg_pool.ConnectionPool of the checkpointer, opened on first use
_saver = None   # the DeferredSaver over the PostgresSaver over it


def checkpointer() -> DeferredSaver:
    """The process's checkpointer: a DeferredSaver over a PostgresSaver over a small connection pool acting as
    crm_workflow (thread-safe)."""
    global _pool, _saver
    with _pool_lock:
        if _pool is None:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

            _pool = ConnectionPool(checkpointer_conninfo(admin_url()), min_size=1, max_size=8, open=True,
                                   kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
                                   name="workflow-checkpoints")   # no check per checkout: a round trip each
            _saver = DeferredSaver(PostgresSaver(_pool))
            atexit.register(close_checkpointer)   # before the embedded server's own exit hook: no open sessions
        return _saver


def close_checkpointer() -> None:
    """Close the pool (tests switch databases; a worker closes it on shutdown)."""
    global _pool, _saver
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool, _saver = None, None
        compiled.cache_clear()


def forget(run_ids: list[str]) -> None:
    """Delete the checkpoints of these runs (finished: their history is their step rows), one pipeline."""
    if not run_ids:
        return
    checkpointer()
    with _pool.connection() as conn, conn.pipeline(), conn.cursor() as cur:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            cur.execute(f"delete from {table} where thread_id = any(%s)", (run_ids,))


class Compiled(NamedTuple):
    graph: CompiledStateGraph
    ends: frozenset[str]   # the nodes after which the run can only end (no routing, no next step)


@lru_cache(maxsize=256)
def _compiled(canonical: str) -> Compiled:
    definition = parse_definition(json.loads(canonical))
    stops = any(step.type == "wait" for step in definition.steps)
    ends = frozenset(chain[0].id for chain in nodes(definition)
                     if chain[-1].type not in ROUTING and chain[-1].next is None)
    return Compiled(build_graph(definition).compile(checkpointer=checkpointer() if stops else None), ends)


def compiled(definition: dict) -> Compiled:
    """The compiled graph of a definition (as stored JSON): with the checkpointer when it has a wait, the only
    place a run stops mid-way and so the only checkpoint ever kept (the runner writes a checkpoint when a run
    waits, never when it ends). A graph without a wait has none: a run re-executed after a crash starts from its
    input and its recorded steps replay, as it would from a checkpoint dropped at its end, and no checkpoint is
    taken per run (LangGraph saves it from a thread of its own per run)."""
    return _compiled(json.dumps(definition, sort_keys=True, default=str))


compiled.cache_clear = _compiled.cache_clear  # type: ignore[attr-defined]

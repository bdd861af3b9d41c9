"""Set-based execution of a batch's runs: consecutive set-based steps are one graph node; deferred steps are
carried out together yet each run's writes are audited as that run, and a failing one fails only its run."""

from __future__ import annotations

import pytest

from crm.workflows.definition import parse_definition
from serving.workflows.graph import nodes
from serving.workflows.runner import run_until_idle
from tests.serving.workflow_world import build_world, count, make_workflow, run_of, start


@pytest.fixture
def world(tenant) -> dict:
    return build_world(tenant["tenant_id"])


def test_set_based_steps_in_a_row_are_one_node_up_to_a_wait_a_routing_step_or_a_join():
    definition = parse_definition({"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "type": "create_task", "params": {"title": "t"}},
        {"id": "b", "type": "add_note", "params": {"body": "n"}},
        {"id": "check", "type": "branch", "params": {"conditions": [{"field": "amount", "op": "gte", "value": 1}],
                                                     "then": "c", "else": "e"}},
        {"id": "c", "type": "update_field", "params": {"field": "amount", "value": 2}},
        {"id": "d", "type": "add_note", "params": {"body": "n"}, "next": "pause"},
        {"id": "e", "type": "add_note", "params": {"body": "n"}},
        {"id": "pause", "type": "wait", "params": {"minutes": 5}},
        {"id": "f", "type": "create_task", "params": {"title": "t"}},
        {"id": "hook", "type": "send_webhook", "params": {"subscription_id": "00000000-0000-0000-0000-000000000001"}},
        {"id": "g", "type": "add_note", "params": {"body": "n"}},
    ]})
    assert [[s.id for s in chain] for chain in nodes(definition)] == [
        ["a", "b"], ["check"], ["c", "d"], ["e"], ["pause"], ["f"], ["hook"], ["g"]]


def test_a_batch_of_runs_writes_set_based_each_run_audited_as_itself_and_a_failure_stays_its_own(world):
    t = world["tenant_id"]
    good = make_workflow(t, [{"id": "task", "type": "create_task", "params": {"title": "Batch call"}},
                             {"id": "note", "type": "add_note", "params": {"body": "batch noted"}},
                             {"id": "bump", "type": "update_field", "params": {"field": "amount", "value": 6000}}])
    runs = [start(t, good, "deal", world["deal"]) for _ in range(4)] + [start(t, good, "contact", world["contact"])]
    outcomes = {o.run_id: o for o in run_until_idle() if o.run_id in runs}   # one agency's runs: one batch
    assert {r: outcomes[r].status for r in runs[:4]} == dict.fromkeys(runs[:4], "succeeded")
    assert all(outcomes[r].executed == ["task", "note", "bump"] for r in runs[:4])
    failed = run_of(t, runs[4])   # a contact has no amount: that run fails at its own step, after its others
    assert failed["status"] == "failed" and failed["current_step"] == "bump"
    assert [(s["step_id"], s["status"]) for s in failed["steps"]] == [
        ("task", "succeeded"), ("note", "succeeded"), ("bump", "failed")]
    assert count(t, "select count(*) from tasks where title = 'Batch call'") == 5
    assert count(t, "select count(*) from notes where body = 'batch noted'") == 5
    assert count(t, "select amount from deals where id = :d", d=world["deal"]) == 6000
    for run_id in runs[:4]:   # task, note and deal: an audit row each, by this run (the deal's only if it changed)
        steps = {s["step_id"]: s["output"] for s in run_of(t, run_id)["steps"]}
        changed = str(steps["bump"]["before"]).startswith("5000")
        assert count(t, "select count(*) from audit_log where actor_type = 'workflow_run' and actor_id = :r",
                     r=run_id) == (3 if changed else 2)
        assert steps["note"]["deal_id"] == str(world["deal"]) and steps["task"]["assigned_by"] == "owner of the record"
        assert count(t, "select count(*) from tasks where id = :i and deal_id = :d", i=steps["task"]["task_id"],
                     d=world["deal"]) == 1
    befores = sorted(str(run_of(t, r)["steps"][2]["output"]["before"]) for r in runs[:4])
    assert befores[0].startswith("5000") and all(b.startswith("6000") for b in befores[1:])   # in order

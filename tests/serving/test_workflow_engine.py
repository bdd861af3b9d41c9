"""The workflow engine on a real tenant: every step's real effect, routing, waits, exactly-once, isolation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from crm.db.engine import admin_engine, tenant_session
from crm.services.errors import NotFound
from crm.settings import get_settings
from crm.workflows.checkpoints import APPLICATION_NAME
from crm.workflows.runs import get_run
from serving.workflows.runner import run_due_outcomes, run_until_idle
from tests.chat_model_endpoint import ChatModelEndpoint
from tests.chat_model_endpoint import serve as serve_chat_model
from tests.serving.workflow_world import (
    add_contact_with_email,
    admin_sql,
    build_world,
    count,
    make_workflow,
    run_of,
    start,
)


@pytest.fixture
def world(tenant) -> dict:
    return build_world(tenant["tenant_id"])


def finish(run_id: str) -> list:
    """Execute due runs until none is due; the outcomes of `run_id`."""
    return [o for o in run_until_idle() if o.run_id == run_id]


def test_every_side_effect_step_does_its_real_effect(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [
        {"id": "task", "type": "create_task", "params": {"title": "Call about the retainer", "due_in_minutes": 60}},
        {"id": "bump", "type": "update_field", "params": {"field": "amount", "value": 7500}},
        {"id": "note", "type": "add_note", "params": {"body": "Moved by a workflow"}},
        {"id": "enroll", "type": "enroll_in_campaign", "params": {"campaign_id": str(world["campaign"])}},
        {"id": "hook", "type": "send_webhook", "params": {"subscription_id": str(world["hook"])}},
        {"id": "draft", "type": "draft_email", "params": {"assignee": "owner"}},
    ])
    run_id = start(t, wf, "deal", world["deal"])
    [outcome] = finish(run_id)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.executed == ["task", "bump", "note", "enroll", "hook", "draft"]

    run = run_of(t, run_id)
    assert run["status"] == "succeeded" and run["finished_at"] is not None and run["error"] is None
    steps = {s["step_id"]: s for s in run["steps"]}
    assert [s["step_id"] for s in run["steps"]] == ["task", "bump", "note", "enroll", "hook", "draft"]
    assert all(s["status"] == "succeeded" and s["duration_ms"] is not None for s in run["steps"])

    task = steps["task"]["output"]
    assert task["assignee_id"] == str(world["owner"]) and task["assigned_by"] == "owner of the record"
    assert count(t, "select count(*) from tasks where id = :i and deal_id = :d and assignee_id = :o "
                    "and due_at > now() + interval '59 minutes'",
                 i=task["task_id"], d=world["deal"], o=world["owner"]) == 1
    assert count(t, "select amount from deals where id = :d", d=world["deal"]) == 7500
    assert steps["bump"]["output"]["after"] == "7500" or float(steps["bump"]["output"]["after"]) == 7500
    assert count(t, "select count(*) from notes where id = :n and deal_id = :d",
                 n=steps["note"]["output"]["note_id"], d=world["deal"]) == 1
    assert count(t, "select count(*) from campaign_members where campaign_id = :c and contact_id = :k",
                 c=world["campaign"], k=world["contact"]) == 1
    assert count(t, "select count(*) from webhook_deliveries where subscription_id = :s and idempotency_key = :k "
                    "and event_type = 'workflow.step'", s=world["hook"], k=f"run:{run_id}:hook") == 1
    draft = steps["draft"]["output"]
    assert draft["subject"] and "Jo" in draft["body"] and draft["composed_by"] == "offline template"
    assert count(t, "select count(*) from tasks where id = :i and assignee_id = :o and description like 'Subject:%'",
                 i=draft["draft_task"]["task_id"], o=world["owner"]) == 1
    # every write is the workflow run's, in the audit log
    assert count(t, "select count(distinct entity_type) from audit_log where actor_type = 'workflow_run' "
                    "and actor_id = :r", r=run_id) >= 4


def test_round_robin_takes_turns_and_a_named_user_must_be_active(world):
    t = world["tenant_id"]
    rr = make_workflow(t, [{"id": "t", "type": "create_task", "params": {"title": "Next", "assignee": "round_robin"}}])
    runs = [start(t, rr, "contact", world["contact"]) for _ in range(3)]
    run_until_idle()
    assignees = [run_of(t, r)["steps"][0]["output"]["assignee_id"] for r in runs]
    assert sorted(assignees) == sorted(str(u) for u in (world["owner"], world["second"], world["admin"]))

    gone = world["second"]   # named in the workflow, then deactivated before the run
    named = make_workflow(t, [{"id": "t", "type": "create_task", "params": {"title": "X", "assignee": str(gone)}},
                              {"id": "after", "type": "add_note", "params": {"body": "never"}}])
    admin_sql("update users set is_active = false where id = :u", u=gone)
    bad = start(t, named, "contact", world["contact"])
    good = start(t, rr, "contact", world["contact"])
    outcomes = {o.run_id: o for o in run_until_idle()}
    assert outcomes[bad].status == "failed" and outcomes[good].status == "succeeded"   # the pass went on
    run = run_of(t, bad)
    assert run["status"] == "failed" and run["current_step"] == "t"
    assert run["error"] == f'step "t": assignee {gone} is not an active user of this agency'
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("t", "failed")]


def test_branch_routes_on_the_record_as_it_is_now(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [
        {"id": "is_big", "type": "branch", "params": {"conditions": [{"field": "amount", "op": "gte", "value": 10000}],
                                                   "then": "big", "else": "small"}},
        {"id": "big", "type": "add_note", "params": {"body": "big deal"}, "next": None},
        {"id": "small", "type": "add_note", "params": {"body": "small deal"}},
    ])
    small = start(t, wf, "deal", world["deal"])
    [outcome] = finish(small)
    assert outcome.executed == ["is_big", "small"]
    admin_sql("update deals set amount = 20000 where id = :d", d=world["deal"])
    big = start(t, wf, "deal", world["deal"])
    [outcome] = finish(big)
    assert outcome.executed == ["is_big", "big"]
    assert run_of(t, big)["steps"][0]["output"] == {"conditions_hold": True, "next": "big"}


DECIDE = [
    {"id": "classify", "type": "ai_decision",
     "params": {"question": "Is this reply a buying signal, an objection or a complaint?",
                "labels": ["buying_signal", "objection", "complaint"],
                "routes": {"buying_signal": "sales", "complaint": "care"}, "default": None}},
    {"id": "sales", "type": "create_task", "params": {"title": "Send the proposal"}, "next": None},
    {"id": "care", "type": "create_task", "params": {"title": "Call the unhappy client"}, "next": None},
]
COMPLAINT = ("I am really disappointed. The landing page has been broken for a week, nobody answers our tickets "
             "and this is unacceptable. We want a refund for the lost days.")
BUYING = ("Thanks, the proposal looks great! Our budget is approved and we are ready to move forward. "
          "Could you send over the contract so we can sign this week?")


def test_ai_decision_offline_tells_a_complaint_from_a_buying_signal(world):
    t = world["tenant_id"]
    wf = make_workflow(t, DECIDE)
    unhappy = start(t, wf, "contact", add_contact_with_email(t, COMPLAINT))
    keen = start(t, wf, "contact", add_contact_with_email(t, BUYING))
    quiet = start(t, wf, "contact", add_contact_with_email(t, "See you at the office.", subject="Lunch"))
    run_until_idle()
    first = run_of(t, unhappy)["steps"]
    assert [s["step_id"] for s in first] == ["classify", "care"]
    assert first[0]["output"]["label"] == "complaint" and first[0]["output"]["method"] == "offline"
    assert "'disappointed'" in first[0]["output"]["reason"] and "VADER" in first[0]["output"]["reason"]
    second = run_of(t, keen)["steps"]
    assert [s["step_id"] for s in second] == ["classify", "sales"]
    assert second[0]["output"]["label"] == "buying_signal" and "'contract'" in second[0]["output"]["reason"]
    third = run_of(t, quiet)["steps"]   # no cue: the default route (here: the end of the run)
    assert [s["step_id"] for s in third] == ["classify"] and third[0]["output"]["label"] is None
    assert "no cue" in third[0]["output"]["reason"]


def test_a_wait_parks_the_run_until_its_resume_at_then_resumes(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [
        {"id": "task", "type": "create_task", "params": {"title": "First touch"}},
        {"id": "pause", "type": "wait", "params": {"minutes": 30}},
        {"id": "note", "type": "add_note", "params": {"body": "followed up after the wait"}},
    ])
    run_id = start(t, wf, "deal", world["deal"])
    [outcome] = finish(run_id)
    assert outcome.status == "waiting" and outcome.executed == ["task"]
    run = run_of(t, run_id)
    assert run["status"] == "waiting" and run["current_step"] == "pause"
    assert count(t, "select count(*) from workflow_runs where id = :r and resume_at between now() + "
                    "interval '29 minutes' and now() + interval '31 minutes'", r=run_id) == 1
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("task", "succeeded"), ("pause", "waiting")]
    assert finish(run_id) == []                      # not due yet: nothing happens
    admin_sql("update workflow_runs set resume_at = now() - interval '1 second' where id = :r", r=run_id)
    [outcome] = finish(run_id)
    assert outcome.status == "succeeded" and outcome.executed == ["pause", "note"]   # from its checkpoint
    run = run_of(t, run_id)
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("task", "succeeded"), ("pause", "succeeded"),
                                                                   ("note", "succeeded")]
    assert count(t, "select count(*) from tasks where deal_id = :d", d=world["deal"]) == 1


def test_runs_and_step_runs_are_invisible_to_another_agency(world, other_tenant):
    t = world["tenant_id"]
    wf = make_workflow(t, [{"id": "note", "type": "add_note", "params": {"body": "private"}}])
    run_id = start(t, wf, "deal", world["deal"])
    finish(run_id)
    assert count(t, "select count(*) from workflow_step_runs where run_id = :r", r=run_id) == 1
    other = other_tenant["tenant_id"]
    for table, column in (("workflows", "id"), ("workflow_runs", "id"), ("workflow_step_runs", "run_id")):
        key = wf if table == "workflows" else run_id
        assert count(other, f"select count(*) from {table} where {column} = :k", k=key) == 0
    with tenant_session(other) as s, pytest.raises(NotFound):
        get_run(s, run_id)
    with tenant_session(other) as s, pytest.raises(Exception, match="row-level security"):   # nor write
        s.execute(text("insert into workflow_step_runs (tenant_id, run_id, step_id, status) "
                       "values (:t, :r, 'x', 'running')"), {"t": t, "r": run_id})


def test_the_app_role_cannot_read_run_checkpoints_and_finished_runs_leave_none(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [{"id": "note", "type": "add_note", "params": {"body": "x"}},
                           {"id": "pause", "type": "wait", "params": {"minutes": 5}}])
    run_id = start(t, wf, "deal", world["deal"])
    finish(run_id)   # waiting: its checkpoints are kept for the resume
    assert admin_sql("select count(*) from workflow_state.checkpoints where thread_id = :r", r=run_id) > 0
    with tenant_session(t) as s, pytest.raises(Exception, match="permission denied for schema workflow_state"):
        s.execute(text("select count(*) from workflow_state.checkpoints"))
    admin_sql("update workflow_runs set resume_at = now() where id = :r", r=run_id)
    assert [o.status for o in finish(run_id)] == ["succeeded"]
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        assert admin_sql(f"select count(*) from workflow_state.{table} where thread_id = :r", r=run_id) == 0


def test_a_failing_step_fails_its_run_and_the_pass_goes_on(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [{"id": "oops", "type": "update_field", "params": {"field": "colour", "value": "red"}}])
    run_id = start(t, wf, "deal", world["deal"])
    outcomes = [o for o in run_due_outcomes(50) if o.run_id == run_id]
    assert outcomes and outcomes[0].status == "failed"
    run = run_of(t, run_id)
    assert run["status"] == "failed" and run["error"].startswith('step "oops": a deal has no field \'colour\'')
    assert uuid.UUID(run_id)


def test_a_failing_run_in_a_batch_leaves_the_others_effects_and_its_own_earlier_steps(world):
    t = world["tenant_id"]
    good = make_workflow(t, [{"id": "task", "type": "create_task", "params": {"title": "Batch mate"}},
                             {"id": "note", "type": "add_note", "params": {"body": "batch mate noted"}}])
    bad = make_workflow(t, [{"id": "task", "type": "create_task", "params": {"title": "Doomed"}},
                            {"id": "oops", "type": "update_field", "params": {"field": "colour", "value": "red"}}])
    runs = [start(t, good, "deal", world["deal"]), start(t, bad, "deal", world["deal"]),
            start(t, good, "deal", world["deal"])]
    outcomes = {o.run_id: o for o in run_due_outcomes(50) if o.run_id in runs}   # one batch: one agency
    assert [outcomes[r].status for r in runs] == ["succeeded", "failed", "succeeded"]
    assert outcomes[runs[0]].executed == ["task", "note"] and outcomes[runs[1]].executed == ["task"]
    failed = run_of(t, runs[1])
    assert failed["error"].startswith('step "oops"') and failed["current_step"] == "oops"
    assert [(s["step_id"], s["status"]) for s in failed["steps"]] == [("task", "succeeded"), ("oops", "failed")]
    assert count(t, "select count(*) from tasks where title = 'Batch mate'") == 2   # the redone round: once each
    assert count(t, "select count(*) from tasks where title = 'Doomed'") == 1
    assert count(t, "select count(*) from notes where body = 'batch mate noted'") == 2


# ---- a worker killed mid-run --------------------------------------------------------------------------------------

def _wait_for(condition, seconds: float, what: str, proc: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"the worker exited: {log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f}s; log: {log_path.read_text()[-3000:]}"
        time.sleep(0.05)


def _blocked_on_a_row_lock() -> bool:
    return bool(admin_sql("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                          "and query like '%deals%' and backend_type = 'client backend'"))


def test_a_worker_killed_mid_run_resumes_at_the_step_it_reached_with_no_effect_twice(world, tmp_path):
    t = world["tenant_id"]
    wf = make_workflow(t, [
        {"id": "task", "type": "create_task", "params": {"title": "Call them"}},
        {"id": "hook", "type": "send_webhook", "params": {"subscription_id": str(world["hook"])}},
        {"id": "bump", "type": "update_field", "params": {"field": "amount", "value": 9000}},
        {"id": "note", "type": "add_note", "params": {"body": "after the restart"}},
    ])
    run_id = start(t, wf, "deal", world["deal"])
    log_path = tmp_path / "worker.log"
    with admin_engine().connect() as holder, log_path.open("w") as log:
        # the deal row is ours until we say so: the worker's third step (update_field) blocks on it (rows that
        # merely refer to the deal, like the task, can still be written: no key update)
        holder.execute(text("select 1 from deals where id = :d for no key update"), {"d": world["deal"]})
        worker = subprocess.Popen([sys.executable, "-c", "from serving.workflows.runner import run_due; run_due(50)"],
                                  env={**os.environ, "CRM_HOME": str(get_settings().home)},
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(lambda: count(t, "select count(*) from workflow_step_runs where run_id = :r and step_id = 'hook' "
                                       "and status = 'succeeded'", r=run_id) == 1, 60,
                      "the webhook step committed", worker, log_path)
            _wait_for(_blocked_on_a_row_lock, 30, "the worker blocked on the deal", worker,
                      log_path)
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(30)
        holder.rollback()

    killed = run_of(t, run_id)
    assert killed["status"] == "running"   # its worker is gone, nobody owns it: due again
    assert [(s["step_id"], s["status"]) for s in killed["steps"]] == [("task", "succeeded"), ("hook", "succeeded")]
    first_task_row = killed["steps"][0]
    # checkpoints are written at a wait or at the end (durability "exit"): the resume rests on the step rows
    assert admin_sql("select count(*) from workflow_state.checkpoints where thread_id = :r", r=run_id) == 0

    [outcome] = finish(run_id)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.executed == ["bump", "note"]   # resumed at the step it reached: task and hook only replayed
    run = run_of(t, run_id)
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [
        ("task", "succeeded"), ("hook", "succeeded"), ("bump", "succeeded"), ("note", "succeeded")]
    assert run["steps"][0]["started_at"] == first_task_row["started_at"]
    assert count(t, "select count(*) from tasks where deal_id = :d", d=world["deal"]) == 1
    assert count(t, "select count(*) from webhook_deliveries where subscription_id = :s", s=world["hook"]) == 1
    assert count(t, "select amount from deals where id = :d", d=world["deal"]) == 9000
    assert count(t, "select count(*) from notes where deal_id = :d", d=world["deal"]) == 1


# ---- a configured chat model ---------------------------------------------------------------------------------------

@pytest.fixture
def chat_model(monkeypatch):
    """Configure CRM_LLM as an Ollama model served by a local endpoint; yields a function setting its reply."""
    servers = []

    def serve(reply: str | None) -> ChatModelEndpoint:
        servers.append(serve_chat_model(monkeypatch, reply=reply))
        return servers[-1]

    yield serve
    for server in servers:
        server.stop()


def test_ai_decision_uses_the_configured_model(world, chat_model):
    t = world["tenant_id"]
    endpoint = chat_model("label: complaint\nreason: they say the page is broken and want a refund")
    run_id = start(t, make_workflow(t, DECIDE), "contact", add_contact_with_email(t, COMPLAINT))
    finish(run_id)
    decided = run_of(t, run_id)["steps"][0]["output"]
    assert endpoint.requests == 1
    assert decided["method"] == "model" and decided["label"] == "complaint" and decided["next"] == "care"
    assert decided["reason"] == "model: they say the page is broken and want a refund"


def test_ai_decision_falls_back_offline_when_the_model_fails_and_says_so(world, chat_model):
    t = world["tenant_id"]
    endpoint = chat_model(None)
    run_id = start(t, make_workflow(t, DECIDE), "contact", add_contact_with_email(t, BUYING))
    [outcome] = finish(run_id)
    assert outcome.status == "succeeded" and endpoint.requests >= 1
    decided = run_of(t, run_id)["steps"][0]["output"]
    assert decided["method"] == "offline fallback" and decided["label"] == "buying_signal"
    assert decided["reason"].startswith("the model failed (") and "offline classifier:" in decided["reason"]
    assert outcome.executed == ["classify", "sales"]


def test_two_runners_at_once_execute_each_run_once(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [{"id": "task", "type": "create_task", "params": {"title": "One each"}},
                           {"id": "hook", "type": "send_webhook", "params": {"subscription_id": str(world["hook"])}}])
    runs = {start(t, wf, "contact", world["contact"]) for _ in range(12)}
    outcomes: list = []
    threads = [threading.Thread(target=lambda: outcomes.extend(run_until_idle())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    mine = [o for o in outcomes if o.run_id in runs]
    assert sorted(o.run_id for o in mine) == sorted(runs) and {o.status for o in mine} == {"succeeded"}
    assert count(t, "select count(*) from tasks where title = 'One each'") == 12
    assert count(t, "select count(*) from webhook_deliveries where subscription_id = :s", s=world["hook"]) == 12


def test_a_lost_database_connection_leaves_the_run_due_not_failed(world):
    t = world["tenant_id"]
    wf = make_workflow(t, [{"id": "task", "type": "create_task", "params": {"title": "Despite the outage"}},
                           {"id": "pause", "type": "wait", "params": {"minutes": 5}},
                           {"id": "note", "type": "add_note", "params": {"body": "still once"}}])
    first = start(t, wf, "contact", world["contact"])
    finish(first)   # waiting: its checkpoint is written, so the checkpointer's connections are open now
    run_id = start(t, wf, "contact", world["contact"])
    cut = admin_sql("select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = :a",
                    a=APPLICATION_NAME)
    assert cut >= 1
    assert [o for o in run_due_outcomes(50) if o.run_id == run_id] == []   # the pass could not checkpoint its wait
    assert run_of(t, run_id)["status"] == "running"                         # not failed: due again
    statuses = []
    for _ in range(10):   # each broken pooled connection (8 at most) fails one use, then the pool replaces it
        statuses += [o.status for o in run_due_outcomes(50) if o.run_id == run_id]
        if statuses:
            break
    assert statuses == ["waiting"]
    admin_sql("update workflow_runs set resume_at = now() where id in (:a, :b)", a=first, b=run_id)
    assert sorted(o.status for o in run_until_idle() if o.run_id in (first, run_id)) == ["succeeded", "succeeded"]
    assert count(t, "select count(*) from tasks where title = 'Despite the outage'") == 2   # one per run
    assert count(t, "select count(*) from notes where body = 'still once'") == 2

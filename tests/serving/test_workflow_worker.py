"""`crm workflows` as it runs beside `crm serve`: a real worker process, a real API over HTTP and a real webhook
receiver. An update through the API starts a run that completes, its webhook step and the event's own delivery
reach the receiver signed, and SIGTERM ends the worker cleanly: exit 0, no process left, detached from the
embedded PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.settings import get_settings
from tests.http_servers import served
from tests.webhook_receiver import receiver, webhook_settings  # noqa: F401 (a fixture)

CLI = [sys.executable, "-m", "app.cli.main"]


@pytest.fixture
def api_url(crm_home):
    """The app served over real HTTP by uvicorn in a thread of this process (as `crm serve` serves it)."""
    with served() as (host, port):
        yield f"http://{host}:{port}/api/v1"


@pytest.fixture
def worker(crm_home):
    """`crm workflows` started as `crm serve` starts it (webhooks may reach 127.0.0.1); killed if a test left it."""
    env = {**os.environ, "CRM_HOME": str(crm_home), "CRM_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
           "CRM_WEBHOOK_BACKOFF_SECONDS": "0.05"}
    proc = subprocess.Popen([*CLI, "workflows", "--poll-seconds", "0.5"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _wait_running(worker: subprocess.Popen, crm_home: Path) -> None:
    log = crm_home / "logs" / "workflows.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and f"workflow worker {worker.pid} running" in log.read_text()):
        assert worker.poll() is None, f"crm workflows exited with {worker.returncode}"
        assert time.monotonic() < deadline, "crm workflows did not start"
        time.sleep(0.1)


def _until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_an_api_update_runs_a_workflow_and_reaches_a_webhook_receiver_then_sigterm_exits_clean(
        crm_home, tenant, api_url, webhook_settings, worker):  # noqa: F811
    api = httpx.Client(base_url=api_url, headers=tenant["headers"], timeout=10)
    with receiver() as rx:   # (the worker boots while the agency is set up)
        hook = api.post("/webhooks", json={"url": rx.url, "event_types": ["deal.updated"]})
        assert hook.status_code == 201, hook.text
        rx.secret = hook.json()["secret"]
        stages = [{"name": "New"}, {"name": "Proposal"}]
        pipeline = api.post("/pipelines", json={"name": "Sales", "is_default": True, "stages": stages}).json()
        proposal = next(s["id"] for s in pipeline["stages"] if s["name"] == "Proposal")
        deal = api.post("/deals", json={"name": "Retainer", "amount": "1200"}).json()
        workflow = api.post("/workflows", json={"name": "Proposal follow-up", "enabled": True, "definition": {
            "trigger": {"type": "record", "entity": "deal", "actions": ["update"], "changed": ["stage_id"]},
            "conditions": [{"field": "amount", "op": "gte", "value": 1000}],
            "steps": [{"id": "task", "type": "create_task", "params": {"title": "Send the proposal",
                                                                      "due_in_minutes": 60, "assignee": "owner"}},
                      {"id": "note", "type": "add_note", "params": {"body": "Moved to proposal"}},
                      {"id": "hook", "type": "send_webhook", "params": {"subscription_id": hook.json()["id"]}}]}})
        assert workflow.status_code == 201, workflow.text
        _wait_running(worker, crm_home)
        moved = api.patch(f"/deals/{deal['id']}", json={"stage_id": proposal})
        assert moved.status_code == 200, moved.text

        def finished():
            with tenant_session(tenant["tenant_id"]) as s:
                return s.execute(text("select id, status, error from workflow_runs where workflow_id = :w "
                                      "and status in ('succeeded', 'failed')"),
                                 {"w": workflow.json()["id"]}).first()

        run = _until(finished)
        assert run.status == "succeeded", run.error
        with tenant_session(tenant["tenant_id"]) as s:
            steps = s.execute(text("select step_id, status from workflow_step_runs where run_id = :r "
                                   "order by started_at"), {"r": run.id}).all()
            tasks = s.scalar(text("select count(*) from tasks where deal_id = :d and title = 'Send the proposal'"),
                             {"d": deal["id"]})
        assert [(st.step_id, st.status) for st in steps] == [("task", "succeeded"), ("note", "succeeded"),
                                                              ("hook", "succeeded")]
        assert tasks == 1
        _until(lambda: len(rx.received) >= 2, timeout=20)
        bodies = {r.json["type"]: r.json["data"] for r in rx.received}
        assert all(r.signature_error is None for r in rx.received)
        assert bodies["workflow.step"]["run_id"] == str(run.id)   # the workflow's send_webhook step
        assert bodies["deal.updated"]["entity_id"] == deal["id"]  # the event's own fan-out
        assert bodies["deal.updated"]["changes"]["stage_id"][1] == proposal
    worker.send_signal(signal.SIGTERM)   # it finishes the step it is in and exits
    code = worker.wait(30)
    assert code == 0
    assert not psutil.pid_exists(worker.pid) or psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE
    handles = get_settings().pg_dir / ".handle_pids.json"   # pgserver's list of attached processes
    assert str(worker.pid) not in handles.read_text(), "the worker did not detach from the embedded PostgreSQL"
    assert "workflow worker stopped" in (crm_home / "logs" / "workflows.log").read_text()

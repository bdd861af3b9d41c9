"""`crm refresher` as users run it: `--once` drains what writes queued; `crm serve` starts it as a child and
stops it on exit; and a refresher whose parent dies stops too, so no process outlives the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.schemas.contacts import ContactCreate
from crm.services import contacts
from tests.conftest import make_tenant
from tests.homes import private_home

CLI = [sys.executable, "-m", "app.cli.main"]


def _env(crm_home: Path) -> dict:
    return {**os.environ, "CRM_HOME": str(crm_home)}


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def _refreshers_of(parent: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(parent).children()
    except psutil.NoSuchProcess:
        return []
    return [c for c in children if "refresher" in c.cmdline()]


def test_once_drains_the_queue_and_prints_a_summary(tmp_path: Path):
    # its own home: `--once` drains every agency's queues, and in the process's shared home that is whatever the
    # modules run before it left queued (23 s in one run, 195 s in another)
    with private_home(tmp_path / "home") as home:
        tenant = make_tenant("Once")["tenant_id"]
        with tenant_session(tenant) as s:
            contacts.create(s, ContactCreate(email=f"{uuid.uuid4().hex[:8]}@example.com"))
        done = subprocess.run([*CLI, "refresher", "--once"], env=_env(home), capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)
        assert summary["tenants"] == [tenant] and summary["claimed"] >= 1 and summary["failed"] == []
        with tenant_session(tenant) as s:
            assert s.scalar(text("select count(*) from live_refresh_queue")) == 0
            assert s.scalar(text("select count(*) from analytics.features_latest where entity_type = 'lead'")) == 1
        assert "refresher" in (home / "logs" / "refresher.log").read_text()


def test_serve_starts_its_refresher_and_stops_it_on_exit(crm_home: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=_env(crm_home),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    child = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (child is None or not _healthy(port)):
            assert serve.poll() is None, serve.stderr.read().decode()[-2000:]
            found = _refreshers_of(serve.pid)
            child = found[0] if found else child
            time.sleep(0.3)
        assert child is not None and _healthy(port)
        assert child.is_running() and str(serve.pid) in child.cmdline()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    assert child is not None and _wait_gone(child.pid, 5)   # serve waited for it


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_refresher_whose_parent_dies_stops_by_itself(crm_home: Path):
    # a stand-in for `crm serve` killed with SIGKILL: it starts the refresher exactly as serve does
    parent = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from app.cli.refresher import start_child\n"
        "child = start_child()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n")], env=_env(crm_home), stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(parent.stdout.readline())
        child = psutil.Process(child_pid)
        deadline = time.monotonic() + 120   # up and running: its log says so
        log = crm_home / "logs" / "refresher.log"
        while time.monotonic() < deadline and not (log.exists() and "refresher running" in log.read_text()):
            assert child.is_running()
            time.sleep(0.3)
    finally:
        parent.kill()
        parent.wait()
    assert _wait_gone(child_pid, 60), "the orphaned refresher kept running"
    assert "is gone: stopping" in log.read_text()

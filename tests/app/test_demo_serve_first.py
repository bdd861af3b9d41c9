"""`crm demo` serves first: /healthz and a logged-in dashboard page answer while the demo is still setting up
(the banner says how far), and stopping the demo mid-pipeline stops its server and leaves no process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from crm.db.watchdog import postmaster_pid

FIRST_LOGIN = re.compile(r"log in at\s+\S+\s+as\s+(\S+)\s+/\s+(\S+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(home: Path) -> dict:
    try:
        return json.loads((home / "setup_status.json").read_text())
    except (OSError, ValueError):
        return {}


def _until(what, deadline: float, proc: subprocess.Popen, log: Path):
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        if (found := what()) is not None:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out; demo output:\n{log.read_text()[-3000:]}")


def _healthz(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code
    except httpx.TransportError:
        return None


def test_demo_serves_before_the_pipeline_finishes_and_stops_cleanly(tmp_path):
    home, port = tmp_path / "home", _free_port()
    url, log = f"http://127.0.0.1:{port}", tmp_path / "demo.err"
    env = {**os.environ, "CRM_HOME": str(home)}
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli.main", "demo", "--size", "tiny", "--port", str(port)],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    family: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600  # a busy 2-core machine imports slowly
        assert _until(lambda: _healthz(url), deadline, proc, log) == 200
        assert _status(home).get("phase") in ("loading", "pipeline")  # served before set-up is done

        email, password = _until(lambda: (m := FIRST_LOGIN.search(log.read_text())) and m.groups(),
                                 deadline, proc, log)
        _until(lambda: _status(home).get("phase") == "pipeline" or None, deadline, proc, log)
        with httpx.Client(base_url=url, timeout=30) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            r = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
            assert r.status_code == 303, r.text
            page = client.get("/")
        assert page.status_code == 200 and "Setting up the demo:" in page.text and "assets)" in page.text

        family = psutil.Process(proc.pid).children(recursive=True)
        assert any("serve" in " ".join(c.cmdline()) for c in family)
        proc.send_signal(signal.SIGTERM)  # mid-pipeline
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:  # the test failed: its server gets SIGTERM when the demo dies
            proc.kill()
            proc.wait()
    assert _healthz(url) is None  # the server stopped with the demo
    _, alive = psutil.wait_procs(family, timeout=60)
    assert not alive, [p.cmdline() for p in alive]
    assert postmaster_pid(home / "pg") is None
    assert "interrupted" in log.read_text()

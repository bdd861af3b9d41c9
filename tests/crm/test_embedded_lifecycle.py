"""The embedded PostgreSQL stops when the last live product process ends, whatever killed the others.

Real pgserver servers, each in its own CRM_HOME, attached by child processes that are then SIGKILLed
(as the OOM killer or `kill -9` would) or left to exit normally.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm.db.watchdog import HANDLES_FILE, postmaster_pid

CHILD = """
import sys
from crm.db.embedded import embedded_server, stop_on_sigterm
stop_on_sigterm()
print(embedded_server().get_pid(), flush=True)
sys.stdin.readline()  # a line (or EOF) means: exit normally
"""
BOUND = 60  # seconds; generous for a loaded 2-core machine, the watchdog polls every half second


def wait_until(condition, what: str, bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {bound} s: {what}")
        time.sleep(0.1)


class Home:
    """A private CRM_HOME whose embedded server is attached by child processes."""

    def __init__(self, path: Path, **env: str):
        self.path, self.pgdata, self.children = path, path / "pg", []
        self.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"CRM_HOME": str(path), **env}

    def attach(self) -> subprocess.Popen:
        child = subprocess.Popen([sys.executable, "-c", CHILD], env=self.env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.children.append(child)
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read()[-2000:]
        self.postmaster = int(line)
        return child

    def handles(self) -> list[int]:
        # pgserver rewrites the file in place when a process attaches or detaches: a read may catch it empty
        deadline = time.monotonic() + BOUND
        while True:
            try:
                return json.loads((self.pgdata / HANDLES_FILE).read_text())
            except json.JSONDecodeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def running(self) -> bool:
        return postmaster_pid(self.pgdata) == self.postmaster

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait()
        if postmaster_pid(self.pgdata):  # a failed test must not leak its server either
            from pgserver._commands import pg_ctl

            from crm.db.watchdog import _system_user

            pg_ctl(["-w", "stop"], pgdata=self.pgdata, user=_system_user())


@pytest.fixture
def home(tmp_path):
    h = Home(tmp_path / "home")
    yield h
    h.close()


@pytest.fixture
def home_without_watchdog(tmp_path):
    """The watchdog polls once an hour here: only pgserver's own exit hook and our pruning can act."""
    h = Home(tmp_path / "home", CRM_PG_WATCHDOG_POLL_SECONDS="3600")
    yield h
    h.close()


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()


def test_a_killed_last_process_does_not_leave_the_server_running(home):
    child = home.attach()
    assert home.running()
    kill(child)
    wait_until(lambda: not home.running(), "the server stops after its only process was SIGKILLed")


def test_a_live_process_keeps_the_server_until_it_is_killed_too(home):
    first, second = home.attach(), home.attach()
    kill(first)
    wait_until(lambda: first.pid not in home.handles(), "the watchdog drops the dead pid")
    assert home.running() and home.handles() == [second.pid]
    kill(second)
    wait_until(lambda: not home.running(), "the server stops once no live process is attached")


def test_a_normal_exit_after_a_killed_sibling_stops_the_server(home_without_watchdog):
    home = home_without_watchdog
    first, second = home.attach(), home.attach()
    kill(first)
    assert home.running()
    second.communicate("\n", timeout=BOUND)
    assert second.returncode == 0
    wait_until(lambda: not home.running(), "the last live process stops the server on its normal exit")


def test_attaching_prunes_the_pids_of_killed_processes(home_without_watchdog):
    home = home_without_watchdog
    kill(home.attach())
    third = home.attach()
    assert home.handles() == [third.pid]


def test_sigterm_is_a_normal_exit_that_stops_the_server(home_without_watchdog):
    home = home_without_watchdog
    child = home.attach()
    child.terminate()
    child.wait(timeout=BOUND)
    wait_until(lambda: not home.running(), "the server stops after its only process got SIGTERM")

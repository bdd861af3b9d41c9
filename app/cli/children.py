"""Child processes of a `crm` command (the demo's server, the server's refresher and workflow worker): how they
are started and stopped, and how a child notices its parent is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable


def stop_child(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """SIGTERM (the child finishes what it is doing and detaches from PostgreSQL), then SIGKILL after `grace`."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_command(*args: str) -> subprocess.Popen:
    """`crm <args> --parent-pid <this pid>` as a child of this process (it exits when this process does)."""
    return subprocess.Popen([sys.executable, "-m", "app.cli.main", *args, "--parent-pid", str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def stop_when_orphaned(parent_pid: int, stop: threading.Event, on_orphaned: Callable[[], None] | None = None,
                       check_seconds: float = 1.0) -> None:
    """Set the `stop` event once the process `parent_pid` is gone (this process is then adopted by another:
    its parent pid changes), however it died; run it in a daemon thread."""
    while not stop.wait(check_seconds):
        if os.getppid() != parent_pid:
            if on_orphaned is not None:
                on_orphaned()
            stop.set()

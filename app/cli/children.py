"""Child processes of a `crm` command (the demo's server, the server's refresher): how they are stopped."""

from __future__ import annotations

import subprocess


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

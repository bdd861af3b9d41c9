"""`crm serve` as a child process of `crm demo`: started before the data loads so the dashboard answers
within seconds, its output in $CRM_HOME/logs/serve.log, stopped when the demo stops."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.cli.children import stop_child
from crm.state import logs_dir


class ServerDidNotStart(RuntimeError):
    pass


class ChildServer:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self.log_path: Path = logs_dir() / "serve.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> float:
        """Start `crm serve` and wait for /healthz to answer 200; returns the seconds it took."""
        started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli.main", "serve", "--host", self.host, "--port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerDidNotStart(f"`crm serve` on port {self.port} exited with code {self.proc.returncode}: "
                                        f"{self._last_log_line()} (is the port taken? use --port; full log: "
                                        f"{self.log_path})")
            if self._healthy():
                # another server on this port would answer too: ours must still be alive to have bound it
                time.sleep(0.2)
                if self.proc.poll() is None:
                    return time.perf_counter() - started
            time.sleep(0.25)
        raise ServerDidNotStart(f"`crm serve` did not answer {self.url}/healthz within {timeout:.0f}s; "
                                f"see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _last_log_line(self) -> str:
        lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def wait(self) -> int:
        """Serve until the child exits (or Ctrl-C / SIGTERM reaches this process)."""
        return self.proc.wait() if self.proc else 0

    def stop(self, grace: float = 30) -> None:
        """SIGTERM (serve exits normally on it, stopping its refresher and detaching from PostgreSQL), then
        SIGKILL after `grace`."""
        stop_child(self.proc, grace)


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it when the demo dies without stopping it (SIGKILL), so no
    server is left holding the port and the database."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: stop() is then the only way
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG

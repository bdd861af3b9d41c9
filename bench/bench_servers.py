"""What the server benches share: servers started in their own process group, stopped for sure, and the CPU
their processes (workers, refresher, PostgreSQL backends) used, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A server in a session of its own, so that stopping it reaches every process it started."""
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 within {timeout:.0f} s")


def stop(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the server (`crm serve` then stops its refresher and detaches from PostgreSQL), SIGKILL to
    whatever of its process group is still there after the grace."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process; 0 once it is gone."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK if fields else 0.0


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat.parent.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def postgres_pids(home: Path) -> list[int]:
    """The embedded server's postmaster and its backends: their CPU is part of each API request."""
    pid_file = home / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return []
    return descendants(int(pid_file.read_text().split()[0]))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _is_refresher(pid: int) -> bool:
    return b"refresher" in _cmdline(pid)


def postgres_names() -> dict[int, str]:
    """Backend pid -> the part of the product it serves: its `application_name` (`crm-api`, `crm-refresher`,
    `crm-workflows`: `crm.db.engine.name_connections`), else its backend type (checkpointer, walwriter, ...)."""
    import psycopg

    from crm.db.engine import admin_url, psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(admin_url()), autocommit=True) as conn:
        rows = conn.execute("select pid, application_name, backend_type from pg_stat_activity").fetchall()
    return {pid: name or kind for pid, name, kind in rows}


@dataclass
class CpuSample:
    app: float
    refresher: float
    postgres: float
    parts: dict[str, float] = field(default_factory=dict)   # CPU seconds by process role (see `cpu_sample`)
    at: float = 0.0                                          # time.monotonic() of the sample

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(self.app - other.app, self.refresher - other.refresher, self.postgres - other.postgres,
                         {k: v - other.parts.get(k, 0.0) for k, v in self.parts.items()}, self.at - other.at)

    def cores(self) -> dict[str, float]:
        """For a difference of two samples: each role's cores on average between them, busiest first."""
        span = max(self.at, 1e-9)
        return dict(sorted(((k, v / span) for k, v in self.parts.items()), key=lambda kv: -kv[1]))


def cpu_sample(server_pid: int, home: Path | None) -> CpuSample:
    """CPU seconds so far of a server's processes: the app (supervisor + workers, and the workflow worker beside
    them), the live refresher beside it (a `crm serve` child), and the PostgreSQL processes (all backends: the
    refresher's too). `parts` splits them by role: `workers`, `workflow worker`, `refresher` and `PostgreSQL
    for <application_name or backend type>` (the postmaster, and a backend not listed when sampled, under
    `other processes`; one that has exited by the second sample loses its share)."""
    app = refresher = 0.0
    parts: dict[str, float] = {}
    tree = descendants(server_pid)
    refreshers = {p for p in tree if _is_refresher(p)}
    flows = {p for p in tree if b"workflows" in _cmdline(p)}
    for pid in tree:
        seconds = cpu_seconds(pid)
        line = [pid, *_ancestors(pid, server_pid)]
        if any(p in refreshers for p in line):
            refresher += seconds
            role = "refresher"
        else:
            app += seconds
            role = "workflow worker" if any(p in flows for p in line) else "workers"
        parts[role] = parts.get(role, 0.0) + seconds
    pg = 0.0
    if home:
        names = postgres_names()
        for pid in postgres_pids(home):
            seconds = cpu_seconds(pid)
            pg += seconds
            role = f"PostgreSQL for {names.get(pid, 'other processes')}"
            parts[role] = parts.get(role, 0.0) + seconds
    return CpuSample(app, refresher, pg, parts, time.monotonic())


def _ancestors(pid: int, stop_at: int) -> list[int]:
    out = []
    while pid not in (stop_at, 0, 1):
        fields = _stat(pid)
        if not fields:
            break
        pid = int(fields[1])
        out.append(pid)
    return out


def machine_facts() -> str:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), {mem_kb / 1024 / 1024:.1f} GiB memory, load average {load}"

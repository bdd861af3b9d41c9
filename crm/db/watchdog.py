"""Stop the embedded PostgreSQL once no live product process is attached to it, however the others died.

pgserver lists every attaching process in `<pgdata>/.handle_pids.json` and stops the server when the
last *listed* pid exits normally. A process killed with SIGKILL (or leaving through `os._exit`) never
removes itself, so its pid stays listed and the server would run forever; and when the last live
process is the one killed, nobody is left to stop it. Hence:
- `prune_dead_handles` drops dead pids from the list; `crm.db.embedded` calls it on attach and just
  before pgserver's own exit hook counts the handles;
- one detached watchdog per running postmaster (`python -m crm.db.watchdog PGDATA POSTMASTER_PID`)
  polls the list and runs `pg_ctl stop` when no listed process is alive; it exits with the server.

Everything that reads or writes the list holds pgserver's own inter-process lock, the one it holds
while starting the server and adding a pid, so the watchdog never stops a server being attached to.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

HANDLES_FILE = ".handle_pids.json"  # pgserver's name for its list of attached pids
POLL_SECONDS = float(os.environ.get("CRM_PG_WATCHDOG_POLL_SECONDS", "0.5"))


def _pgserver_lock():
    from pgserver.postgres_server import PostgresServer

    return PostgresServer._lock  # the very object pgserver locks: fcntl locks are per process, not per object


def _system_user() -> str | None:
    # as root, pgserver runs PostgreSQL as its own `pgserver` user, and pg_ctl must run as that user too
    return "pgserver" if os.geteuid() == 0 else None


def is_alive(pid: int) -> bool:
    """A zombie (killed, not yet reaped by its parent) is dead for our purpose."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the PostgreSQL server running on this data dir, or None when none runs (PostgreSQL
    removes postmaster.pid on shutdown, before its last process is gone)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_alive(pid) else None


def _read_handles(pgdata: Path) -> list[int]:
    try:
        return [int(pid) for pid in json.loads((pgdata / HANDLES_FILE).read_text())]
    except (FileNotFoundError, ValueError):
        return []


def _prune_locked(pgdata: Path) -> list[int]:
    listed = _read_handles(pgdata)
    alive = [pid for pid in listed if is_alive(pid)]
    if alive != listed:   # replaced whole: a reader without the lock never sees the file half written
        staged = pgdata / f"{HANDLES_FILE}.{os.getpid()}.tmp"
        staged.write_text(json.dumps(alive))
        os.replace(staged, pgdata / HANDLES_FILE)
    return alive


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of processes that died without detaching; return the live ones."""
    if not (pgdata / HANDLES_FILE).exists():
        return []
    with _pgserver_lock():
        return _prune_locked(pgdata)


def _lock_path(pgdata: Path, server_pid: int) -> Path:
    # one lock per postmaster, not per data dir: a watchdog still exiting after its server stopped must
    # not keep the next server of the same data dir from getting its own
    return pgdata / f".watchdog.{server_pid}.lock"


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
        return None


def ensure_watchdog(pgdata: Path, server_pid: int) -> None:
    """Start the watchdog of this postmaster unless one already holds its lock."""
    fd = _try_lock(_lock_path(pgdata, server_pid))
    if fd is None:
        return
    os.close(fd)  # closing releases the flock: the watchdog takes it over (a racing twin just exits)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    with open(pgdata / ".watchdog.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "crm.db.watchdog", str(pgdata), str(server_pid)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=pgdata,
                         start_new_session=True)  # outlives the starter and its terminal's signals


def _stop(pgdata: Path, postmaster: psutil.Process) -> None:
    from pgserver._commands import pg_ctl

    try:
        pg_ctl(["-w", "stop"], pgdata=pgdata, user=_system_user())
    except subprocess.CalledProcessError:
        if postmaster_pid(pgdata) == postmaster.pid:
            postmaster.terminate()


def watch(pgdata: Path, server_pid: int) -> None:
    fd = _try_lock(_lock_path(pgdata, server_pid))
    if fd is None:
        return
    try:
        postmaster = psutil.Process(server_pid)
        while True:
            try:
                postmaster.wait(timeout=POLL_SECONDS)  # returns as soon as the server is gone
                break
            except psutil.TimeoutExpired:
                pass
            with _pgserver_lock():
                if postmaster_pid(pgdata) != server_pid:
                    break  # stopping already (pgserver's own exit hook stopped it)
                if not _prune_locked(pgdata):
                    print(f"{time.strftime('%F %T')} no live process attached: stopping PostgreSQL "
                          f"(postmaster {server_pid})", file=sys.stderr, flush=True)
                    _stop(pgdata, postmaster)
                    break
    except psutil.NoSuchProcess:
        pass
    finally:
        _lock_path(pgdata, server_pid).unlink(missing_ok=True)
        os.close(fd)


if __name__ == "__main__":
    watch(Path(sys.argv[1]), int(sys.argv[2]))

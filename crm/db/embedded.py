"""The embedded PostgreSQL 16 (pgserver) used when DATABASE_URL is unset.

pgserver reuses a server already running on the same data directory, so every process of the
product (API, CLI, Dagster, tests) shares one server; it stops when the last of them exits, whatever
killed the others (dead pids are pruned, and a watchdog stops it when no live process is left, see
crm.db.watchdog).
"""

from __future__ import annotations

import atexit
import signal
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from crm.db.watchdog import ensure_watchdog, prune_dead_handles
from crm.settings import get_settings

_attached: dict[Path, object] = {}  # data dir -> pgserver handle, for every server this process attached


@lru_cache
def embedded_server():
    import pgserver

    pg_dir = get_settings().pg_dir
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    prune_dead_handles(pg_dir)
    server = pgserver.get_server(pg_dir, cleanup_mode="stop")
    # atexit runs the last registered first: this prune precedes pgserver's exit hook, which stops the
    # server only if this process is the last one listed
    atexit.register(prune_dead_handles, server.pgdata)
    ensure_watchdog(server.pgdata, server.get_pid())
    _attached[server.pgdata] = server
    return server


def embedded_admin_url() -> str:
    """SQLAlchemy URL of the embedded server's superuser, over its Unix socket."""
    uri = embedded_server().get_uri()
    host = parse_qs(urlparse(uri).query)["host"][0]
    return f"postgresql+psycopg://postgres:@/postgres?host={host}"


def attached_servers() -> list[Path]:
    """Data dirs of the embedded servers this process is attached to."""
    return list(_attached)


def release_embedded_servers() -> list[Path]:
    """Detach this process from every embedded server it attached (stopping those it was the last live
    user of) before it exits; returns their data dirs. Dispose the engines first."""
    released = list(_attached)
    for pgdata, server in _attached.items():
        prune_dead_handles(pgdata)
        server.cleanup()
    _attached.clear()
    embedded_server.cache_clear()
    return released


def stop_on_sigterm() -> None:
    """pgserver stops only on a normal exit: turn SIGTERM into one for long-running processes."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

"""The embedded PostgreSQL 16 (pgserver) used when DATABASE_URL is unset.

pgserver reuses a server already running on the same data directory, so every process of the
product (API, CLI, Dagster, tests) shares one server; it stops when the last of them exits.
"""

from __future__ import annotations

import signal
import sys
from functools import lru_cache
from urllib.parse import parse_qs, urlparse

from crm.settings import get_settings


@lru_cache
def embedded_server():
    import pgserver

    pg_dir = get_settings().pg_dir
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(pg_dir, cleanup_mode="stop")


def embedded_admin_url() -> str:
    """SQLAlchemy URL of the embedded server's superuser, over its Unix socket."""
    uri = embedded_server().get_uri()
    host = parse_qs(urlparse(uri).query)["host"][0]
    return f"postgresql+psycopg://postgres:@/postgres?host={host}"


def stop_on_sigterm() -> None:
    """pgserver stops only on a normal exit: turn SIGTERM into one for long-running processes."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

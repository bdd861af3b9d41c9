"""Pooled connections are checked before use only when they may have gone stale.

SQLAlchemy's `pool_pre_ping` sends a round trip before every checkout: with a session per request (and several
per workflow batch) that is one round trip in four or five, for connections that were in use a moment ago. Here
a connection is pinged at checkout only when it sat in the pool at least `IDLE_PING_SECONDS` (a database
restart, a proxy's idle timeout or a failover all take longer than that to happen unseen). A dead connection
found by the ping is replaced at once (`DisconnectionError`: the pool retries with a fresh one); one that dies
within the window fails its statement, and SQLAlchemy then invalidates the pool's other connections of the
same age, as it does for any disconnect."""

from __future__ import annotations

import time

from sqlalchemy import Engine, event, exc

IDLE_PING_SECONDS = 1.0


def install(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> Engine:
    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return   # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error

    return engine

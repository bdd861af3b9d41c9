"""A pooled connection is pinged at checkout only after sitting idle (crm.db.liveness); one whose server side
died while idle is replaced before anyone's statement fails on it."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, event, text

from crm.db import liveness
from crm.db.engine import admin_engine, admin_url


def _engine_counting_pings(idle_seconds: float):
    engine = liveness.install(create_engine(admin_url(), pool_size=1, max_overflow=0), idle_seconds)
    pings: list[str] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_connection):
        pings.append("ping")
        return ping(dbapi_connection)

    engine.dialect.do_ping = counting
    return engine, pings


def test_a_connection_in_use_a_moment_ago_is_not_pinged_an_idle_one_is():
    engine, pings = _engine_counting_pings(idle_seconds=1.0)   # back-to-back checkouts are far closer
    try:
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.execute(text("select 1")).scalar() == 1
        assert pings == []
        time.sleep(1.1)
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar() == 1
        assert pings == ["ping"]
    finally:
        engine.dispose()


def test_an_idle_connection_killed_on_the_server_is_replaced_at_checkout():
    engine, pings = _engine_counting_pings(idle_seconds=0.0)
    opened: list[int] = []
    event.listen(engine, "connect", lambda dbapi_connection, record: opened.append(1))
    try:
        with engine.connect() as conn:
            victim = conn.execute(text("select pg_backend_pid()")).scalar()
        with admin_engine().connect() as admin:
            assert admin.execute(text("select pg_terminate_backend(:pid, 5000)"), {"pid": victim}).scalar()
        with engine.connect() as conn:   # the ping finds it dead: a fresh connection, no error for the caller
            assert conn.execute(text("select pg_backend_pid()")).scalar() != victim
        assert pings and len(opened) == 2
    finally:
        engine.dispose()

"""One network round trip per API read: admission, tenant scope, the read and its commit in one pipeline.

A read by an API key used to cost two transactions and five or six round trips (authenticate; begin, set the
tenant, select, select the ETag, commit) plus a thread-pool hop for each. Here the request's whole dialogue
with PostgreSQL is one libpq pipeline on an async connection, sent in one flush and answered in one:

    select * from api_admit(key_hash, key_rate, tenant_rate)   -- its own transaction: auth + rate limits
    begin
    select api_scope(key_hash)        -- app.tenant_id := the key's tenant, for this transaction only
    <the read>                        -- under forced RLS, as the app role
    commit

If admission fails (unknown or revoked key, an empty bucket) PostgreSQL skips everything after it up to the
pipeline's sync, so a refused request costs no read. The tenant is never taken from the request: the
database derives it from the key inside the transaction (migration 0015). A dashboard session, already
authenticated by its cookie, sends `set_config('app.tenant_id', ...)` in place of `api_scope` and skips
admission (interactive users are not rate limited).

The pool lives in the event loop of the server (opened by the app's lifespan); code running without one
(a test client used without its context) gets a connection of its own for the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.sql import ClauseElement

from crm.db import timing
from crm.db.engine import app_url, psycopg_conninfo
from crm.db.slots import Overloaded
from crm.settings import get_settings

POOL_MIN, POOL_MAX = 2, 10   # per worker process; PostgreSQL on two cores does not gain from more
_DIALECT = psycopg_dialect()
# No automatic server-side prepares: when a pipeline is aborted by an error (a refused key, a bad value), a
# PREPARE queued in it is skipped while psycopg records it as done, and the next use of that statement fails.
CONNECTION = {"autocommit": True, "row_factory": dict_row, "prepare_threshold": None}
MAX_WAITING = 2000           # requests queued for a connection beyond this are refused at once (503)


class Unauthorized(Exception):
    """Unknown or revoked API key."""


class RateLimited(Exception):
    def __init__(self, retry_after: int, limit: float, scope: str):
        who = "API key" if scope == "key" else "agency"
        super().__init__(f"rate limit of the {who}: {limit:g} requests per second; retry in {retry_after} s")
        self.retry_after, self.limit, self.scope = retry_after, limit, scope   # scope: 'key' | 'tenant'


@dataclass(frozen=True)
class Admission:
    api_key_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    rate_limit: int
    rate_remaining: int


@dataclass(frozen=True)
class KeyCaller:
    """An API key to admit and scope in the database (the hash only travels)."""
    key_hash: str

    @classmethod
    def of(cls, api_key: str) -> KeyCaller:
        from crm.security import hash_api_key

        return cls(hash_api_key(api_key))


@dataclass(frozen=True)
class TenantCaller:
    """A caller already authenticated by other means (the dashboard's session)."""
    tenant_id: uuid.UUID


Caller = KeyCaller | TenantCaller


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Mapping[str, Any] | Sequence[Any] | None = None

    @classmethod
    def of(cls, clause: ClauseElement) -> Statement:
        """A SQLAlchemy statement (Core select, text() with bound values) as SQL + parameters for psycopg."""
        compiled = clause.compile(dialect=_DIALECT)
        return cls(str(compiled), compiled.params)


class LazyPool:
    """The pool of one event loop, opened by its first request (a server's lifespan may start before the
    database it will use is reachable, or without serving anything) and closed with the loop's lifespan."""

    def __init__(self) -> None:
        self.pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()

    async def get(self) -> AsyncConnectionPool:
        if self.pool is None:
            async with self._opening:
                if self.pool is None:
                    pool = AsyncConnectionPool(psycopg_conninfo(app_url()), min_size=POOL_MIN, max_size=POOL_MAX,
                                               max_waiting=MAX_WAITING, open=False, name="api-one-trip",
                                               kwargs=CONNECTION)
                    await pool.open()
                    self.pool = pool
        return self.pool

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()


async def run(pools: LazyPool | None, caller: Caller,
              statements: Sequence[Statement]) -> tuple[Admission | None, list[list[dict]]]:
    """The caller admitted and scoped, then `statements` in one transaction; their rows, in order."""
    timeout = get_settings().crm_queue_timeout
    if pools is None:
        conn = await psycopg.AsyncConnection.connect(psycopg_conninfo(app_url()), **CONNECTION)
        async with conn:
            return await _dialogue(conn, caller, statements)
    pool = await pools.get()
    try:
        async with pool.connection(timeout=timeout) as conn:
            return await _dialogue(conn, caller, statements)
    except (PoolTimeout, TooManyRequests) as exc:
        raise Overloaded(str(exc)) from exc


async def _dialogue(conn: psycopg.AsyncConnection, caller: Caller,
                    statements: Sequence[Statement]) -> tuple[Admission | None, list[list[dict]]]:
    started = time.perf_counter()
    admit = conn.cursor()
    cursors = [conn.cursor() for _ in statements]
    refused: psycopg.Error | None = None
    try:
        async with conn.pipeline() as pipeline:
            try:
                await _send(conn, admit, cursors, caller, statements)
                await pipeline.sync()   # the one flush and the one wait for the answers
            except psycopg.Error as exc:   # the first error, raised by whichever call received it
                refused = exc
                with contextlib.suppress(psycopg.Error):
                    await pipeline.sync()   # what was skipped after it, up to the sync point
        if refused is not None:
            await _rollback(conn)
            _raise_refusal(refused)
            raise refused
    finally:
        timing.record(time.perf_counter() - started)
    admission = None
    if isinstance(caller, KeyCaller):
        row = await admit.fetchone()
        admission = Admission(row["api_key_id"], row["tenant_id"], row["role"], row["rate_limit"],
                              row["rate_remaining"])
    return admission, [await c.fetchall() for c in cursors]


async def _send(conn: psycopg.AsyncConnection, admit: psycopg.AsyncCursor, cursors: list[psycopg.AsyncCursor],
                caller: Caller, statements: Sequence[Statement]) -> None:
    settings = get_settings()
    if isinstance(caller, KeyCaller):
        await admit.execute("select * from api_admit(%s, %s, %s)",
                            (caller.key_hash, settings.crm_rate_key_per_s, settings.crm_rate_tenant_per_s))
    await conn.execute("begin")
    if isinstance(caller, KeyCaller):
        await conn.execute("select api_scope(%s)", (caller.key_hash,))
    else:
        await conn.execute("select set_config('app.tenant_id', %s, true)", (str(caller.tenant_id),))
    for cursor, statement in zip(cursors, statements, strict=True):
        await cursor.execute(statement.sql, statement.params)
    await conn.execute("commit")


async def _rollback(conn: psycopg.AsyncConnection) -> None:
    # an error after `begin` leaves the transaction open and failed; one before it left nothing open
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        await asyncio.shield(conn.execute("rollback"))


def _raise_refusal(exc: psycopg.Error) -> None:
    state = exc.sqlstate
    if state == "28000":
        raise Unauthorized(str(exc.diag.message_primary)) from exc
    if state == "CR429":
        detail = json.loads(exc.diag.message_detail or "{}")
        raise RateLimited(int(detail.get("retry_after", 1)), float(detail.get("limit", 0)),
                          str(detail.get("scope", "key"))) from exc


def admit_sync(conn, key_hash: str) -> Admission:
    """The same admission for the routes that keep a synchronous session (writes, insights): its own
    transaction on `conn` (a SQLAlchemy connection), before the request's tenant transaction."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    settings = get_settings()
    try:
        row = conn.execute(text("select * from api_admit(:h, :k, :t)"),
                           {"h": key_hash, "k": settings.crm_rate_key_per_s,
                            "t": settings.crm_rate_tenant_per_s}).one()
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.Error):
            _raise_refusal(exc.orig)
        raise
    return Admission(row.api_key_id, row.tenant_id, row.role, row.rate_limit, row.rate_remaining)

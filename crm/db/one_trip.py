"""One network round trip per API read: the tenant scope, the read and its commit in one message.

A read by an API key used to cost two transactions and five or six round trips (authenticate; begin, set the
tenant, select, select the ETag, commit) plus a thread-pool hop for each. Here a read is one simple-protocol
message on an async connection:

    select set_config('app.tenant_id', '<tenant>', true); <the read>

PostgreSQL runs the statements of one message as one implicit transaction, so the tenant setting is local to
it, exactly as `SET LOCAL` in `crm.db.engine.tenant_session`, and the read runs under forced RLS as the app
role. Values are bound client-side by psycopg (quoted and escaped as literals), never formatted by us.

Admission (who the key is, rate limits) is leased: `api_lease` (migration 0015) authenticates a key and hands
this worker up to `lease_size(rate)` requests from the key's and the agency's token buckets in PostgreSQL;
the worker spends them for at most LEASE_SECONDS, then asks again. So most requests cost PostgreSQL no
admission, the buckets stay the one shared truth across worker processes (no token is spent twice), and a
revoked key stops working within LEASE_SECONDS in every worker (at once in the worker that revoked it).
A small rate (under 10 per second) leases one request at a time: its limit is exact.

The pool lives in the event loop of the server (opened by its first read, closed by the app's lifespan);
code running without one (a test client used without its context) gets a connection of its own.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import math
import re
import threading
import time
import uuid
import weakref
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
MAX_WAITING = 2000           # requests queued for a connection beyond this are refused at once (503)
LEASE_SECONDS = 1.0          # how long a worker spends a lease: the bound on a revoked key elsewhere
MAX_LEASE = 100
_DIALECT = psycopg_dialect()
# Client-side binding: one message carries the scope and the read (several statements, simple protocol).
CONNECTION = {"autocommit": True, "row_factory": dict_row, "cursor_factory": psycopg.AsyncClientCursor}
_LEASE_SQL = "select * from api_lease(%s, %s, %s, %s)"
# Every statement on these connections is PREPAREd once and EXECUTEd with values (below). Left to choose,
# PostgreSQL planned a page of 50 afresh on every execution (pg_prepared_statements: 0 generic plans of 820):
# the generic plan's estimate for `limit $n` never beat the custom ones, and planning cost more than running.
# The hot reads' plans do not depend on the values (the tenant is a run-time setting, pages are index ranges).
_SESSION_SQL = "set plan_cache_mode = force_generic_plan"


class Unauthorized(Exception):
    """Unknown or revoked API key."""


class RateLimited(Exception):
    def __init__(self, retry_after: int, limit: float, scope: str, wait: float = 0.0):
        who = "API key" if scope == "key" else "agency"
        super().__init__(f"rate limit of the {who}: {limit:g} requests per second; retry in {retry_after} s")
        self.retry_after, self.limit, self.scope = retry_after, limit, scope   # scope: 'key' | 'tenant'
        self.wait = wait   # seconds until the bucket holds a token again (nobody else can add one sooner)


@dataclass(frozen=True)
class Admission:
    api_key_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    rate_limit: int
    rate_remaining: int


@dataclass(frozen=True)
class KeyCaller:
    """An API key to admit (the hash only travels)."""
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


# ---- leases -------------------------------------------------------------------------------------------------

def lease_size(rate: float) -> int:
    """Requests a worker takes at once: a tenth of a second's worth, so unspent ones are few."""
    return max(1, min(MAX_LEASE, int(rate * 0.1)))


@dataclass
class _Lease:
    admission: Admission
    left: int
    until: float


class Leases:
    """This process's unspent leases by key hash (shared by the event loop and the sync routes' threads).

    Requests that miss at the same moment must not each take a full lease (a burst of misses would drain the
    bucket into leases nobody spends): while one lease of a key is being fetched, the others ask for one
    request only, and whatever is granted adds to the key's lease."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, _Lease] = {}
        self._fetching: dict[str, int] = {}
        self._refused: dict[str, tuple[float, RateLimited]] = {}   # key hash -> (until, the refusal)
        self._known: dict[str, Admission] = {}   # key hash -> its last admission here (who a refused key is)

    def refusal(self, key_hash: str) -> RateLimited | None:
        """The key's last refusal while its bucket cannot have refilled yet: a flood is refused here, at no
        cost to PostgreSQL (tokens only come back with time, so asking again before then is pointless)."""
        with self._lock:
            refused = self._refused.get(key_hash)
            if refused is None:
                return None
            until, exc = refused
            left = until - time.monotonic()
            if left <= 0:
                del self._refused[key_hash]
                return None
        return RateLimited(max(1, math.ceil(left)), exc.limit, exc.scope, left)

    def any_refused(self) -> bool:
        """Whether some key is being refused here (a lock-free peek: the outermost check costs nothing else)."""
        return bool(self._refused)

    def known(self, key_hash: str) -> Admission | None:
        return self._known.get(key_hash)

    def refused(self, key_hash: str, exc: RateLimited) -> None:
        if exc.wait > 0:
            with self._lock:
                self._refused[key_hash] = (time.monotonic() + exc.wait, exc)

    def spend(self, key_hash: str) -> Admission | None:
        with self._lock:
            lease = self._by_key.get(key_hash)
            if lease is None or lease.left < 1 or lease.until < time.monotonic():
                self._by_key.pop(key_hash, None)
                return None
            lease.left -= 1
            return lease.admission

    def want(self, key_hash: str, size: int) -> int:
        """How many requests to ask for now (call `fetched` after, whatever happened)."""
        with self._lock:
            busy = self._fetching.get(key_hash, 0)
            self._fetching[key_hash] = busy + 1
            return 1 if busy else size

    def fetched(self, key_hash: str, admission: Admission | None = None, granted: int = 0) -> None:
        with self._lock:
            busy = self._fetching.pop(key_hash, 1) - 1
            if busy:
                self._fetching[key_hash] = busy
            if admission is not None:
                self._known[key_hash] = admission
            if granted > 1 and admission is not None:
                lease = self._by_key.get(key_hash)
                now = time.monotonic()
                if lease is None or lease.until < now:
                    self._by_key[key_hash] = _Lease(admission, granted - 1, now + LEASE_SECONDS)
                else:
                    lease.left += granted - 1

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._by_key.pop(key_hash, None)
            self._refused.pop(key_hash, None)
            self._known.pop(key_hash, None)


leases = Leases()


def forget_key(key_hash: str) -> None:
    """A key revoked or rotated in this process stops here at once (other workers: within LEASE_SECONDS)."""
    leases.forget(key_hash)


def _lease_params(key_hash: str) -> tuple:
    settings = get_settings()
    key_rate, tenant_rate = settings.crm_rate_key_per_s, settings.crm_rate_tenant_per_s
    return key_hash, leases.want(key_hash, lease_size(min(key_rate, tenant_rate))), key_rate, tenant_rate


def _admission(row: Mapping[str, Any], kept: int) -> Admission:
    return Admission(row["api_key_id"], row["tenant_id"], row["role"], row["rate_limit"],
                     row["rate_remaining"] + kept)


def _raise_refusal(exc: psycopg.Error) -> None:
    state = exc.sqlstate
    if state == "28000":
        raise Unauthorized(str(exc.diag.message_primary)) from exc
    if state == "CR429":
        detail = json.loads(exc.diag.message_detail or "{}")
        raise RateLimited(int(detail.get("retry_after", 1)), float(detail.get("limit", 0)),
                          str(detail.get("scope", "key")), float(detail.get("wait", 0))) from exc


async def _admit(conn: psycopg.AsyncConnection, key_hash: str) -> Admission:
    admission = _spend(key_hash)
    if admission is not None:
        return admission
    params = _lease_params(key_hash)
    try:
        row = await (await conn.execute(_LEASE_SQL, params)).fetchone()
    except psycopg.Error as exc:
        return _refused(exc, key_hash)
    except BaseException:   # cancelled (client gone), connection lost: nothing was leased
        leases.fetched(key_hash)
        raise
    return _granted(row, key_hash)


async def admit(pools: LazyPool | None, key_hash: str) -> Admission:
    """A key admitted on its own, in one round trip on this event loop's pool (no thread): for a request that
    then works in a session of its own (the API's writes)."""
    if (admission := _spend(key_hash)) is not None:
        return admission
    if pools is None:
        async with await _connect() as conn:
            return await _admit(conn, key_hash)
    pool = await pools.get()
    try:
        async with pool.connection(timeout=get_settings().crm_queue_timeout) as conn:
            return await _admit(conn, key_hash)
    except (PoolTimeout, TooManyRequests) as exc:
        raise Overloaded(str(exc)) from exc


def admit_sync(conn, key_hash: str) -> Admission:
    """The same admission for the routes that keep a synchronous session (writes, insights), on `conn` (a
    SQLAlchemy connection) in a transaction of its own, before the request's tenant transaction."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    admission = _spend(key_hash)
    if admission is not None:
        return admission
    key, want, key_rate, tenant_rate = _lease_params(key_hash)
    try:
        row = conn.execute(text("select * from api_lease(:h, :n, :k, :t)"),
                           {"h": key, "n": want, "k": key_rate, "t": tenant_rate}).mappings().one()
    except DBAPIError as exc:
        if not isinstance(exc.orig, psycopg.Error):
            leases.fetched(key_hash)
            raise
        return _refused(exc.orig, key_hash)
    return _granted(row, key_hash)


def spend(key_hash: str) -> Admission | None:
    """A request of this worker's lease for the key, or None (then PostgreSQL must be asked); raises the key's
    refusal while it still runs."""
    return _spend(key_hash)


def _spend(key_hash: str) -> Admission | None:
    """A request of this worker's lease, or None (then ask PostgreSQL); raises a refusal still running."""
    admission = leases.spend(key_hash)
    if admission is None and (refusal := leases.refusal(key_hash)) is not None:
        raise refusal
    return admission


def _granted(row: Mapping[str, Any], key_hash: str) -> Admission:
    admission = _admission(row, row["granted"] - 1)
    leases.fetched(key_hash, admission, row["granted"])
    return admission


def _refused(exc: psycopg.Error, key_hash: str) -> Admission:
    """Raise the refusal, unless a concurrent request's lease landed meanwhile: its spare requests count."""
    leases.fetched(key_hash)
    spare = leases.spend(key_hash) if exc.sqlstate == "CR429" else None
    if spare is not None:
        return spare
    try:
        _raise_refusal(exc)
    except RateLimited as refusal:
        leases.refused(key_hash, refusal)
        raise
    raise exc


# ---- the round trip -------------------------------------------------------------------------------------------

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
                                               kwargs=CONNECTION, configure=_configure)
                    await pool.open()
                    self.pool = pool
        return self.pool

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()


async def _configure(conn: psycopg.AsyncConnection) -> None:
    await conn.execute(_SESSION_SQL)


async def _connect() -> psycopg.AsyncConnection:
    """A connection of its own (no pool in this event loop), set up as the pool's are."""
    conn = await psycopg.AsyncConnection.connect(psycopg_conninfo(app_url()), **CONNECTION)
    await _configure(conn)
    return conn


async def run(pools: LazyPool | None, caller: Caller,
              statements: Sequence[Statement]) -> tuple[Admission | None, list[list[dict]]]:
    """The caller admitted, then `statements` in its tenant in one transaction; their rows, in order."""
    if pools is None:
        async with await _connect() as conn:
            return await _dialogue(conn, caller, statements)
    # a lease's request, or a refusal still running, costs no connection
    admitted = _spend(caller.key_hash) if isinstance(caller, KeyCaller) else None
    pool = await pools.get()
    try:
        async with pool.connection(timeout=get_settings().crm_queue_timeout) as conn:
            return await _dialogue(conn, caller, statements, admitted)
    except (PoolTimeout, TooManyRequests) as exc:
        raise Overloaded(str(exc)) from exc


async def ping(pools: LazyPool | None) -> None:
    """PostgreSQL answers through this worker's pool (health checks)."""
    if pools is None:
        async with await psycopg.AsyncConnection.connect(psycopg_conninfo(app_url()), **CONNECTION) as conn:
            await conn.execute("select 1")
        return
    pool = await pools.get()
    try:
        async with pool.connection(timeout=get_settings().crm_queue_timeout) as conn:
            await conn.execute("select 1")
    except (PoolTimeout, TooManyRequests) as exc:
        raise Overloaded(str(exc)) from exc


async def _dialogue(conn: psycopg.AsyncConnection, caller: Caller, statements: Sequence[Statement],
                    admission: Admission | None = None) -> tuple[Admission | None, list[list[dict]]]:
    started = time.perf_counter()
    try:
        if admission is None and isinstance(caller, KeyCaller):
            admission = await _admit(conn, caller.key_hash)
        tenant = admission.tenant_id if admission is not None else caller.tenant_id
        prepared = [await _prepared(conn, s) for s in statements]
        # one message: the scope and every statement, one implicit transaction
        sql = "; ".join(["select set_config('app.tenant_id', %(tenant__)s, true)", *(p.execute_sql for p in prepared)])
        params: dict[str, Any] = {"tenant__": str(tenant)}
        for statement, plan in zip(statements, prepared, strict=True):
            params.update({alias: (statement.params or {})[name] for alias, name in plan.aliases.items()})
        cursor = conn.cursor()
        await cursor.execute(sql, params)
        results = []
        for _ in statements:
            cursor.nextset()
            results.append(await cursor.fetchall())
        return admission, results
    finally:
        timing.record(time.perf_counter() - started)


# ---- prepared statements --------------------------------------------------------------------------------------
# Planning a read costs PostgreSQL more than running it (0.85 ms against 0.29 ms for a page of 50 under RLS).
# The one message stays one message by EXECUTEing a statement PREPAREd once per connection, always with its
# generic plan (`_SESSION_SQL`; the tenant is a run-time value of app_tenant_id()).

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class _Prepared:
    name: str
    prepare_sql: str               # PREPARE name AS <sql with $1..$n>
    execute_sql: str               # EXECUTE name(%(a0)s, ...), bound client-side
    aliases: dict[str, str]        # a0 -> the statement's own parameter name


@functools.lru_cache(maxsize=1024)
def _plan(sql: str) -> _Prepared:
    order: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    body = _PLACEHOLDER.sub(number, sql).replace("%%", "%")
    name = "crm_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
    aliases = {f"p{i}__{name}": param for i, param in enumerate(order)}
    args = ", ".join(f"%({alias})s" for alias in aliases)
    return _Prepared(name, f"prepare {name} as {body}", f"execute {name}({args})" if args else f"execute {name}",
                     aliases)


_prepared_on: weakref.WeakKeyDictionary[psycopg.AsyncConnection, set[str]] = weakref.WeakKeyDictionary()


async def _prepared(conn: psycopg.AsyncConnection, statement: Statement) -> _Prepared:
    plan = _plan(statement.sql)
    done = _prepared_on.setdefault(conn, set())
    if plan.name not in done:
        await conn.execute(plan.prepare_sql)   # no parameters: psycopg sends it as it is
        done.add(plan.name)
    return plan

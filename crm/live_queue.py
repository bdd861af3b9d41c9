"""The live refresh outbox (migration 0010): who has work waiting, claiming it, and waking on it.

Triggers fill `live_refresh_queue` (touched contacts / companies) and `live_index_queue` (written notes /
activities) in the writer's transaction. Consumers claim a tenant's rows inside that tenant's RLS session:
- the score lane locks and deletes what it claims (`claim_refresh`) in the transaction that writes the new scores, so a
  consumer killed mid-batch rolls the claim back with the work: nothing lost, nothing done twice;
- the index lane locks what it claims (`claim_index`) and deletes it (`forget_index`) only once LanceDB, which
  is outside the transaction, holds the passages: a crash repeats work, which is idempotent by text hash.
`skip locked` lets two consumers share a tenant's queue without waiting on each other.
Only `pending_tenants`, `total_depth` and `LiveListener` use the admin connection, and they read no tenant data
beyond which tenants have rows waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import psycopg
from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from crm.db.engine import admin_engine, admin_url, psycopg_conninfo

Queue = Literal["refresh", "index"]
CHANNEL = "crm_live"
TABLES: dict[str, str] = {"refresh": "live_refresh_queue", "index": "live_index_queue"}

# Distinct tenant_ids by walking the primary key (tenant_id, id) one tenant at a time: a backlog of a
# million index rows costs one index probe per tenant, not a scan of the million.
_PENDING_TENANTS = """
with recursive t as (
  (select tenant_id from {table} order by tenant_id limit 1)
  union all
  select (select q.tenant_id from {table} q where q.tenant_id > t.tenant_id order by q.tenant_id limit 1)
    from t where t.tenant_id is not null
)
select tenant_id from t where tenant_id is not null
"""

# Two statements, not `delete ... where id in (select ... limit n for update skip locked)`: PostgreSQL may
# run that subquery once per candidate row, each run skipping the rows the delete already took and locking
# the next n, so one claim emptied a whole backlog (seen at 2,000 rows). `bigint[]` keeps the id test a
# hashed int8 comparison (a plain list may bind as int2[]/int4[]).
# The delete then also takes every other queued row of the claimed entities: the refresh computes their
# features as of a moment after those rows' writes committed, so it answers them all. A bulk load that
# touched a contact in six statements (its row, deals, activities, notes, ...) costs one refresh, not six.
_LOCK_REFRESH = text("select id from live_refresh_queue order by id limit :n for update skip locked")
_DELETE_REFRESH = text("""
with entities as (
  select distinct entity_type, entity_id from live_refresh_queue where id = any(cast(:ids as bigint[]))
)
delete from live_refresh_queue q using entities e
 where q.tenant_id = app_tenant_id() and q.entity_id = e.entity_id and q.entity_type = e.entity_type
returning q.id, q.entity_type, q.entity_id, q.source_table, q.queued_at
""")

_CLAIM_INDEX = text("""
select id, source_type, source_id, queued_at from live_index_queue order by id limit :n for update skip locked
""")


def pending_tenants(queue: Queue) -> list[str]:
    """Tenants with rows waiting in `queue` (admin connection: the one cross-tenant read of the live path)."""
    with admin_engine().connect() as conn:
        return [str(r[0]) for r in conn.execute(text(_PENDING_TENANTS.format(table=TABLES[queue])))]


def claim_refresh(session: Session, limit: int) -> list[Row]:
    """Take the session tenant's oldest `limit` queued rows off the queue, with every other row queued for
    the same entities, in the caller's transaction (rows: id, entity_type, entity_id, source_table,
    queued_at; oldest first). An entity touched by several writes comes back once per write: the caller
    refreshes each entity once."""
    ids = session.execute(_LOCK_REFRESH, {"n": limit}).scalars().all()
    if not ids:
        return []
    return sorted(session.execute(_DELETE_REFRESH, {"ids": ids}).all(), key=lambda r: r.id)


def claim_index(session: Session, limit: int) -> list[Row]:
    """Lock up to `limit` of the session tenant's oldest index rows (id, source_type, source_id, queued_at)
    without removing them: call `forget_index` with their ids once the passages are stored."""
    return session.execute(_CLAIM_INDEX, {"n": limit}).all()


def forget_index(session: Session, ids: Sequence[int]) -> int:
    if not ids:
        return 0
    result = session.execute(text("delete from live_index_queue where id = any(cast(:ids as bigint[]))"),
                             {"ids": list(ids)})
    return result.rowcount


def depth(session: Session) -> dict[str, dict]:
    """Rows waiting per queue for the session's tenant and the oldest one's queued_at."""
    out = {}
    for queue, table in TABLES.items():
        row = session.execute(text(f"select count(*) as n, min(queued_at) as oldest from {table}")).one()
        out[queue] = {"rows": row.n, "oldest_queued_at": row.oldest}
    return out


def total_depth() -> dict[str, int]:
    """Rows waiting per queue over every tenant (admin connection), for the operator's view."""
    with admin_engine().connect() as conn:
        return {queue: conn.execute(text(f"select count(*) from {table}")).scalar_one()
                for queue, table in TABLES.items()}


def notify(tenant_id: uuid.UUID | str) -> None:
    """Wake the refresher for a tenant by hand (the triggers do this for every write)."""
    with admin_engine().begin() as conn:
        conn.execute(text("select pg_notify(:c, :t)"), {"c": CHANNEL, "t": str(tenant_id)})


class LiveListener:
    """A connection LISTENing on `crm_live`: `wait(timeout)` returns the tenant ids notified since the last
    call, waiting up to `timeout` seconds for the first one. One per thread (a connection is not shared)."""

    def __init__(self) -> None:
        self._conn = psycopg.connect(psycopg_conninfo(admin_url()), autocommit=True)
        self._conn.execute(f"listen {CHANNEL}")

    def wait(self, timeout: float) -> set[str]:
        tenants = {n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)}
        if tenants:  # take whatever else already arrived, without waiting again
            tenants |= {n.payload for n in self._conn.notifies(timeout=0.01)}
        return tenants

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LiveListener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

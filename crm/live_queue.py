"""The live refresh outbox (migration 0010): who has work waiting, claiming it, and waking on it.

Triggers fill `live_refresh_queue` (touched contacts / companies) and `live_index_queue` (written notes /
activities) in the writer's transaction. Consumers claim a tenant's rows inside that tenant's RLS session:
- the score lane locks and deletes what it claims (`claim_refresh`) in the transaction that writes the new scores, so a
  consumer killed mid-batch rolls the claim back with the work: nothing lost, nothing done twice;
- the index lane locks what it claims (`claim_index`) and deletes it (`forget_index`) only once LanceDB, which
  is outside the transaction, holds the passages: a crash repeats work, which is idempotent by text hash.
`skip locked` lets two consumers share a tenant's queue without waiting on each other.
A claim takes both ends of a tenant's queue: half its newest rows, so a change just written never waits behind a
backlog (a first run's bulk load queues every entity of the agency), and half its oldest, so the backlog drains
and nothing starves. The refresher also sweeps what arrived since its last look (`high_water`, `newer_than`)
before each backlog batch, so a new change waits for one batch, not for a pass over every agency's backlog.
A batch scoring pass, which scores every entity of a tenant, marks the snapshot it read (`mark_batch`) and then
removes every queued refresh row it answered (`settle_batch`, migration 0012).
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
_LOCK_NEWEST = "select {columns} from {table} order by id desc limit :n for update skip locked"
_LOCK_OLDEST = "select {columns} from {table} order by id limit :n for update skip locked"
_LOCK_NEWER = "select {columns} from {table} where id > :after order by id desc limit :n for update skip locked"
# Each tenant's newest queued id, by one primary-key probe per tenant (admin connection, ids only).
_HIGH_WATER = """
select cast(x.tenant_id as text), (select max(q.id) from {table} q where q.tenant_id = x.tenant_id)
  from unnest(cast(:tenants as uuid[])) as x(tenant_id)
"""
_DELETE_REFRESH = text("""
with entities as (
  select distinct entity_type, entity_id from live_refresh_queue where id = any(cast(:ids as bigint[]))
)
delete from live_refresh_queue q using entities e
 where q.tenant_id = app_tenant_id() and q.entity_id = e.entity_id and q.entity_type = e.entity_type
returning q.id, q.entity_type, q.entity_id, q.source_table, q.queued_at
""")

# A pass marks the snapshot it reads before it reads anything (READ COMMITTED: every later statement of the
# pass sees at least what that snapshot sees), so a row whose xid the mark sees is in what the pass scored.
_MARK_BATCH = text("""
insert into live_batch_marks (tenant_id, entity_type, snapshot, scored_at)
values (app_tenant_id(), :entity_type, pg_current_snapshot(), :scored_at)
on conflict (tenant_id, entity_type) do update set snapshot = excluded.snapshot, scored_at = excluded.scored_at
""")
# Answered: seen by the newest lead pass and by the newest account pass. Rows a refresher holds are skipped:
# it is refreshing them anyway.
_ANSWERED = text("""
select q.id from live_refresh_queue q
  join live_batch_marks l on l.tenant_id = q.tenant_id and l.entity_type = 'lead'
  join live_batch_marks a on a.tenant_id = q.tenant_id and a.entity_type = 'account'
 where q.tenant_id = app_tenant_id()
   and pg_visible_in_snapshot(q.xid, l.snapshot) and pg_visible_in_snapshot(q.xid, a.snapshot)
   for update of q skip locked
""")


def pending_tenants(queue: Queue) -> list[str]:
    """Tenants with rows waiting in `queue` (admin connection: the one cross-tenant read of the live path)."""
    with admin_engine().connect() as conn:
        return [str(r[0]) for r in conn.execute(text(_PENDING_TENANTS.format(table=TABLES[queue])))]


def _lock_both_ends(session: Session, queue: Queue, columns: str, limit: int,
                    newer_than: int | None = None) -> list[Row]:
    """Lock up to `limit` of the session tenant's queued rows, the newest half and the oldest half, in id order.
    A row this transaction already locked is not skipped by its own `skip locked`, so on a queue shorter
    than `limit` the two halves overlap and together take every row. With `newer_than`: only rows queued after
    that id, newest first (the refresher's sweep of what arrived since its last look)."""
    if newer_than is not None:
        rows = session.execute(text(_LOCK_NEWER.format(columns=columns, table=TABLES[queue])),
                               {"n": limit, "after": newer_than}).all()
        return sorted(rows, key=lambda r: r.id)
    newest = session.execute(text(_LOCK_NEWEST.format(columns=columns, table=TABLES[queue])),
                             {"n": (limit + 1) // 2}).all()
    oldest = session.execute(text(_LOCK_OLDEST.format(columns=columns, table=TABLES[queue])),
                             {"n": limit - len(newest)}).all() if limit > len(newest) else []
    return sorted({r.id: r for r in [*newest, *oldest]}.values(), key=lambda r: r.id)


def claim_refresh(session: Session, limit: int, newer_than: int | None = None) -> list[Row]:
    """Take up to `limit` of the session tenant's queued rows off the queue (its newest and its oldest; with
    `newer_than`, only rows after that id), with every other row queued for the same entities, in the caller's
    transaction (rows: id, entity_type, entity_id, source_table, queued_at; in id order). An entity touched
    by several writes comes back once per write: the caller refreshes each entity once."""
    ids = [r.id for r in _lock_both_ends(session, "refresh", "id", limit, newer_than)]
    if not ids:
        return []
    return sorted(session.execute(_DELETE_REFRESH, {"ids": ids}).all(), key=lambda r: r.id)


def claim_index(session: Session, limit: int, newer_than: int | None = None) -> list[Row]:
    """Lock up to `limit` of the session tenant's index rows, its newest and its oldest (with `newer_than`,
    only rows after that id) (id, source_type, source_id, queued_at; in id order) without removing them:
    call `forget_index` with their ids once the passages are stored."""
    return _lock_both_ends(session, "index", "id, source_type, source_id, queued_at", limit, newer_than)


def peek_index(session: Session, limit: int, newer_than: int) -> list[Row]:
    """The session tenant's newest index rows after `newer_than` (source_type, source_id), as `claim_index`
    with `newer_than` would take them, but read without a lock: to prepare their work ahead of the claim."""
    return session.execute(text("select source_type, source_id from live_index_queue where id > :after "
                                "order by id desc limit :n"), {"n": limit, "after": newer_than}).all()


def high_water(queue: Queue, tenant_ids: Sequence[str]) -> dict[str, int]:
    """The newest queued id of each of these tenants (0 when none), admin connection: ids only."""
    if not tenant_ids:
        return {}
    with admin_engine().connect() as conn:
        rows = conn.execute(text(_HIGH_WATER.format(table=TABLES[queue])), {"tenants": list(tenant_ids)})
        return {tenant: newest or 0 for tenant, newest in rows}


def mark_batch(session: Session, entity_type: str, scored_at) -> None:
    """Record, as the first statement of a pass that scores every `entity_type` ('lead' or 'account') of the
    session's tenant, the snapshot the pass reads from."""
    session.execute(_MARK_BATCH, {"entity_type": entity_type, "scored_at": scored_at})


def settle_batch(session: Session) -> int:
    """Remove the session tenant's queued refresh rows that the newest lead pass and the newest account pass
    both saw (call it after the pass's scores are written, in its transaction); returns how many."""
    ids = session.execute(_ANSWERED).scalars().all()
    if not ids:
        return 0
    return session.execute(text("delete from live_refresh_queue where id = any(cast(:ids as bigint[]))"),
                           {"ids": list(ids)}).rowcount


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
    """A connection LISTENing on `crm_live` (or on the given channels: the workflow worker's `crm_events`):
    `wait(timeout)` returns the tenant ids notified since the last call, waiting up to `timeout` seconds for
    the first one. One per thread (a connection is not shared)."""

    def __init__(self, *channels: str) -> None:
        self._conn = psycopg.connect(psycopg_conninfo(admin_url()), autocommit=True)
        for channel in channels or (CHANNEL,):
            self._conn.execute(f"listen {channel}")

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

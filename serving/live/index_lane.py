"""The refresher's index lane: notes and activities just written become passages of the insight index.

Each batch claims up to `limit` rows of the tenant's `live_index_queue` (locked, not yet removed), brings
exactly those texts in line with PostgreSQL through the indexer's one reconcile (`index_sources`: new or
changed text is embedded, relinked text keeps its vectors, a deleted or no longer indexed text loses its
passages) and removes the rows only after LanceDB holds the result. LanceDB is outside the PostgreSQL
transaction, so a consumer killed between the two leaves the rows queued; the next run finds the same text
hashes and embeds nothing again (at least once, idempotent).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import live_queue
from crm.db.engine import admin_engine, session_tenant, tenant_session
from serving.embeddings import BATCH_SIZE, embed
from serving.rag.chunking import chunk_text
from serving.rag.indexer import Embedder, index_sources
from serving.rag.sources import read_sources
from serving.rag.store import open_table, tenant_filter

# Every table.add is a new fragment; LanceDB searches fragments its indices do not cover yet by a flat scan,
# which stays cheap for a few hundred rows. `optimize` (compaction + index update) is paid at most every
# OPTIMIZE_EVERY batches during a backlog, and otherwise once things have been quiet-ish for OPTIMIZE_AFTER_S.
OPTIMIZE_EVERY = 20
OPTIMIZE_AFTER_S = 60.0


class IndexProgress(TypedDict):
    queued: int  # distinct texts waiting in live_index_queue
    indexed_sources: int  # texts that have passages in LanceDB
    oldest_queued_at: object  # datetime of the oldest waiting row, or None


class _Optimizer:
    """When to fold the fragments written since the last `optimize` into the table and its indices."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pending_batches = 0
        self.last = time.monotonic()

    def wrote(self, drained: bool) -> None:
        with self._lock:
            self.pending_batches += 1
            due = (self.pending_batches >= OPTIMIZE_EVERY
                   or (drained and time.monotonic() - self.last >= OPTIMIZE_AFTER_S))
            if not due:
                return
            self.pending_batches, self.last = 0, time.monotonic()
        optimize()


_optimizer = _Optimizer()


class LaneStopped(Exception):
    """The refresher is stopping in the middle of an embedding batch: the batch rolls back, its rows stay queued."""


def stoppable(embed_fn: Embedder, stop: threading.Event) -> Embedder:
    """`embed_fn` in slices of one encode batch, giving up between slices once `stop` is set: a first run's
    backlog batch embeds for seconds to minutes, and a process must not exit while a thread is inside torch
    (its native thread pool aborts the interpreter's shutdown)."""
    def embed_until_stopped(texts: Sequence[str]) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), BATCH_SIZE):
            if stop.is_set():
                raise LaneStopped
            parts.append(embed_fn(texts[start:start + BATCH_SIZE]))
        return np.concatenate(parts) if parts else embed_fn([])
    return embed_until_stopped


def embed_ahead(fresh: dict[str, int], limit: int, embed_fn: Embedder) -> Embedder:
    """Embed, in one call, the passages of what arrived in several tenants' index queues (`fresh`: tenant ->
    the queue id already seen), and return an embedder that answers those passages from memory and embeds only
    the others. MiniLM on one thread costs 20 ms of CPU for one short text alone and about 5 ms each in a batch
    of 16, while a live stream of notes spread over agencies gives each tenant's batch one or two texts. Each
    tenant's texts are read under its own RLS; the claims that follow are unchanged (a text edited in between
    is simply embedded again by its batch)."""
    passages: list[str] = []
    for tenant_id, seen in fresh.items():
        with tenant_session(tenant_id) as session:
            rows = live_queue.peek_index(session, limit, seen)
            if rows:
                sources = read_sources(session, {(r.source_type, str(r.source_id)) for r in rows})
                passages += [c for s in sources for c in chunk_text(s.text)]
    unique = list(dict.fromkeys(passages))
    known = dict(zip(unique, embed_fn(unique), strict=True)) if unique else {}

    def embed_known_first(texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, embed_fn(missing), strict=True))
        return np.stack([known[t] for t in texts]) if texts else embed_fn([])
    return embed_known_first


def optimize() -> None:
    table = open_table()
    if table is not None:
        table.optimize()


def index_tenant_queue(tenant_id: uuid.UUID | str, limit: int = 256, embed_fn: Embedder = embed,
                       newer_than: int | None = None) -> int:
    """One batch of a tenant's index queue (with `newer_than`: only rows queued after that id); returns the
    number of queue rows it consumed (0: nothing waiting)."""
    with tenant_session(tenant_id) as session:
        rows = live_queue.claim_index(session, limit, newer_than)
        if not rows:
            return 0
        run = index_sources(session, {(r.source_type, str(r.source_id)) for r in rows}, embed_fn)
        # LanceDB holds the passages now; only then may the rows go (the commit is at the end of the block)
        live_queue.forget_index(session, [r.id for r in rows])
    if run.changed:
        _optimizer.wrote(drained=len(rows) < limit)
    return len(rows)


def index_progress(scope: Session | uuid.UUID | str | None = None) -> IndexProgress:
    """How far the insight index is behind: for a tenant session (or tenant id) under its RLS, or for every
    tenant (None, the operator's view through the admin connection)."""
    sql = text("select count(distinct source_id) as queued, min(queued_at) as oldest from live_index_queue")
    table = open_table()
    if scope is None:
        with admin_engine().connect() as conn:
            row = conn.execute(sql).one()
        indexed = table.count_rows("chunk_index = 0") if table is not None else 0
    elif isinstance(scope, Session):
        row = scope.execute(sql).one()
        indexed = table.count_rows(f"{tenant_filter(session_tenant(scope))} and chunk_index = 0") if table else 0
    else:
        with tenant_session(scope) as session:
            return index_progress(session)
    return {"queued": row.queued, "indexed_sources": indexed, "oldest_queued_at": row.oldest}

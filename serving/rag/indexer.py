"""Incremental indexing: embed only new or changed texts, carry deletions, keep the indices current.

Per tenant, the sources in PostgreSQL are compared with the passages already in LanceDB by
(source_type, source_id) and the md5 of the source text:
- new source, or text changed -> chunk + embed, replacing any old passages of that source;
- same text, links changed (contact/company/deal/time) -> passages rewritten with their stored vectors;
- source gone from PostgreSQL (deleted, or no longer an indexed type) -> its passages deleted.
`index_tenant` does it for every source of a tenant (the pipeline's full reconcile), `index_sources` for the
few the live index queue names (serving/live/index_lane.py); both go through the one `_reconcile`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.db.engine import admin_engine, session_tenant
from crm.ids import parse_uuid
from serving.embeddings import DIMENSIONS, embed
from serving.rag.chunking import chunk_text
from serving.rag.sources import Source, load_sources, read_sources
from serving.rag.store import SCHEMA, in_list, open_table, tenant_filter

log = logging.getLogger(__name__)
Embedder = Callable[[Sequence[str]], np.ndarray]
_META = ["source_type", "source_id", "text_hash", "kind", "contact_id", "company_id", "deal_id", "occurred_at"]
_DELETE_BATCH = 500


@dataclass
class IndexRun:
    tenants: int = 0
    sources: int = 0
    embedded_sources: int = 0
    embedded_chunks: int = 0
    relinked_sources: int = 0
    deleted_sources: int = 0

    def __iadd__(self, other: IndexRun) -> IndexRun:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def changed(self) -> bool:
        return bool(self.embedded_sources or self.relinked_sources or self.deleted_sources)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _indexed_state(table, tenant_id: str, source_ids: list[str] | None = None
                   ) -> dict[tuple[str, str], tuple[str, tuple]]:
    """(source_type, source_id) -> (text_hash, links) of what the index holds for this tenant (or for
    `source_ids` of it)."""
    wheres = [tenant_filter(tenant_id)] if source_ids is None else [
        f"{tenant_filter(tenant_id)} and {in_list('source_id', source_ids[start:start + _DELETE_BATCH])}"
        for start in range(0, len(source_ids), _DELETE_BATCH)]
    state = {}
    for where in wheres:
        for r in table.search().where(where).select(_META).limit(None).to_arrow().to_pylist():
            state[(r["source_type"], r["source_id"])] = (
                r["text_hash"], (r["kind"], r["contact_id"], r["company_id"], r["deal_id"], _utc(r["occurred_at"])))
    return state


def _rows(tenant_id: str, source: Source, chunks: list[str], vectors: np.ndarray) -> dict[str, list]:
    n = len(chunks)
    return {
        "chunk_id": [f"{source.source_type}:{source.source_id}:{i}" for i in range(n)],
        "tenant_id": [tenant_id] * n, "source_type": [source.source_type] * n, "kind": [source.kind] * n,
        "source_id": [source.source_id] * n, "chunk_index": list(range(n)),
        "contact_id": [source.contact_id] * n, "company_id": [source.company_id] * n,
        "deal_id": [source.deal_id] * n, "occurred_at": [_utc(source.occurred_at)] * n,
        "text": chunks, "text_hash": [source.text_hash] * n, "vector": list(vectors),
    }


def _to_arrow(parts: list[dict[str, list]]) -> pa.Table:
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    for part in parts:
        for name in columns:
            columns[name].extend(part[name])
    vectors = np.asarray(columns.pop("vector"), dtype=np.float32).reshape(-1, DIMENSIONS)
    arrays = [pa.array(columns[f.name], type=f.type) for f in SCHEMA if f.name != "vector"]
    arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIMENSIONS))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _delete_sources(table, tenant_id: str, source_ids: list[str]) -> None:
    for start in range(0, len(source_ids), _DELETE_BATCH):
        batch = source_ids[start:start + _DELETE_BATCH]
        table.delete(f"{tenant_filter(tenant_id)} and {in_list('source_id', batch)}")


def _stored_vectors(table, tenant_id: str, source_ids: list[str]) -> dict[str, list[tuple[int, str, list]]]:
    """Chunks and vectors already computed for these sources, so a relink needs no embedding."""
    out: dict[str, list[tuple[int, str, list]]] = {}
    for start in range(0, len(source_ids), _DELETE_BATCH):
        where = f"{tenant_filter(tenant_id)} and {in_list('source_id', source_ids[start:start + _DELETE_BATCH])}"
        rows = (table.search().where(where).select(["source_id", "chunk_index", "text", "vector"])
                .limit(None).to_arrow().to_pylist())
        for r in rows:
            out.setdefault(r["source_id"], []).append((r["chunk_index"], r["text"], r["vector"]))
    return {k: sorted(v, key=lambda c: c[0]) for k, v in out.items()}


def index_tenant(tenant_id: uuid.UUID | str, embed_fn: Embedder = embed) -> IndexRun:
    """Bring one tenant's passages in line with PostgreSQL; `embed_fn` sees only new or changed text."""
    tenant = str(parse_uuid(tenant_id, "tenant_id"))
    table = open_table(create=True)
    return _reconcile(table, tenant, load_sources(tenant), _indexed_state(table, tenant), embed_fn)


def index_sources(session: Session, keys: Collection[tuple[str, str]], embed_fn: Embedder = embed) -> IndexRun:
    """Bring just these (source_type, source_id) texts of the session's tenant in line with PostgreSQL, read in
    that session: what the live queue names. The same reconcile as `index_tenant`, over fewer keys."""
    wanted = {(t, str(parse_uuid(i, "source_id"))) for t, i in keys}
    if not wanted:
        return IndexRun()
    tenant = str(session_tenant(session))
    table = open_table(create=True)
    indexed = _indexed_state(table, tenant, sorted({i for _, i in wanted}))
    return _reconcile(table, tenant, read_sources(session, wanted),
                      {k: v for k, v in indexed.items() if k in wanted}, embed_fn)


def _reconcile(table, tenant: str, sources: list[Source], indexed: dict, embed_fn: Embedder) -> IndexRun:
    """Passages for `sources` replace what `indexed` holds for them; keys of `indexed` not among `sources`
    are texts gone from PostgreSQL (or no longer indexed), so their passages go."""
    current = {s.key: s for s in sources}
    to_embed = [s for s in sources if s.key not in indexed or indexed[s.key][0] != s.text_hash]
    relink = [s for s in sources if s.key in indexed and indexed[s.key][0] == s.text_hash
              and indexed[s.key][1] != (*s.links[:4], _utc(s.occurred_at))]
    gone = [key[1] for key in indexed if key not in current]
    run = IndexRun(tenants=1, sources=len(sources), embedded_sources=len(to_embed),
                   relinked_sources=len(relink), deleted_sources=len(gone))

    parts: list[dict[str, list]] = []
    if to_embed:
        chunked = [(s, chunk_text(s.text)) for s in to_embed]
        flat = [c for _, chunks in chunked for c in chunks]
        vectors = embed_fn(flat)
        run.embedded_chunks = len(flat)
        offset = 0
        for source, chunks in chunked:
            parts.append(_rows(tenant, source, chunks, vectors[offset:offset + len(chunks)]))
            offset += len(chunks)
    if relink:
        stored = _stored_vectors(table, tenant, [s.source_id for s in relink])
        for source in relink:
            kept = stored.get(source.source_id, [])
            parts.append(_rows(tenant, source, [c[1] for c in kept], np.asarray([c[2] for c in kept])))
    replaced = [s.source_id for s in to_embed if s.key in indexed] + [s.source_id for s in relink]
    if replaced or gone:
        _delete_sources(table, tenant, replaced + gone)
    if parts:
        table.add(_to_arrow(parts))
    return run


def all_tenant_ids() -> list[str]:
    """Operator view of every tenant (the admin engine), so the job can visit each under its own RLS."""
    with admin_engine().connect() as conn:
        return [str(r[0]) for r in conn.execute(text("select id from tenants order by created_at"))]


def index_all_tenants(embed_fn: Embedder = embed, tenant_ids: list[str] | None = None) -> IndexRun:
    """The pipeline job: each tenant (or those given) in turn, then fold new rows into the indices."""
    total = IndexRun()
    for tenant in tenant_ids if tenant_ids is not None else all_tenant_ids():
        total += index_tenant(tenant, embed_fn)
    if total.changed:
        table = open_table(create=True)
        table.optimize()
    log.info("rag index: %s", total)
    return total

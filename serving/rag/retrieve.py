"""Search a tenant's passages: vector, full text, or hybrid (both, fused by reciprocal rank).

The tenant filter is a prefilter: LanceDB restricts candidates to the tenant's rows before any ranking,
so another tenant's text is never a candidate. Entity filters (company, contact, deal) only narrow that.
As a last guard every row returned is checked against the asking tenant and dropped (and logged) if it
does not match, which would mean a bug in the filter, not a legitimate result.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lancedb.rerankers import RRFReranker

from serving.embeddings import embed_one
from serving.rag.store import as_uuid, open_table, tenant_filter

log = logging.getLogger(__name__)
Mode = Literal["vector", "fts", "hybrid"]
_COLUMNS = ["chunk_id", "tenant_id", "source_type", "kind", "source_id", "contact_id", "company_id", "deal_id",
            "occurred_at", "text"]
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUESTION_CHARS = 2000
_reranker = RRFReranker()


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    source_type: str
    kind: str
    source_id: str
    contact_id: str | None
    company_id: str | None
    deal_id: str | None
    occurred_at: datetime
    text: str
    score: float


def fts_terms(question: str) -> str:
    """Only the words of the question go to the full-text index: no operators, quotes or field names."""
    return " ".join(_WORD.findall(question[:MAX_QUESTION_CHARS]))


def search(tenant_id: str, question: str, *, mode: Mode = "hybrid", k: int = 5, company_id: str | None = None,
           contact_id: str | None = None, deal_id: str | None = None) -> list[Passage]:
    """The k best passages of `tenant_id` for `question`, best first."""
    tenant = as_uuid(tenant_id, "tenant_id")
    where = tenant_filter(tenant, company_id=company_id, contact_id=contact_id, deal_id=deal_id)
    table = open_table()
    terms = fts_terms(question)
    if table is None or not question.strip() or (mode == "fts" and not terms):
        return []
    if mode == "hybrid" and not terms:
        mode = "vector"
    # Fusion needs more candidates than it returns: a passage ranked 8th by both lists can win.
    fetch = k if mode != "hybrid" else max(3 * k, 20)
    # Score columns are named in select (else lance warns on every query); hybrid selects for both
    # sub-queries at once, so it takes all columns instead.
    if mode == "vector":
        query = (table.search(embed_one(question), query_type="vector").distance_type("cosine")
                 .select([*_COLUMNS, "_distance"]))
    elif mode == "fts":
        query = table.search(terms, query_type="fts").select([*_COLUMNS, "_score"])
    else:
        query = (table.search(query_type="hybrid").vector(embed_one(question)).text(terms)
                 .distance_type("cosine").rerank(_reranker))
    rows = query.where(where, prefilter=True).limit(fetch).to_list()
    passages = []
    for row in rows:
        if row["tenant_id"] != tenant:
            log.error("retrieval returned a row of another tenant; dropped (chunk %s)", row["chunk_id"])
            continue
        score = row.get("_relevance_score", row.get("_score", None))
        if score is None:
            score = 1.0 - float(row.get("_distance", 1.0))
        passages.append(Passage(row["chunk_id"], row["source_type"], row["kind"], row["source_id"],
                                row["contact_id"], row["company_id"], row["deal_id"], row["occurred_at"],
                                row["text"], float(score)))
    return passages[:k]

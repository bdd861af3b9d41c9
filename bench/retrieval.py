"""Retrieval latency and recall: LanceDB (tenant-prefiltered, BITMAP index) beside exact numpy search.

One table holds many tenants, as in production. Per query, LanceDB answers through `serving.rag.retrieve.search`
(the code the API runs, with the query vector already cached so only retrieval is timed); the baseline is an
exact dot-product top-10 over the same tenant's vectors held in a numpy array. recall@10 compares the two
result lists. Vectors: real MiniLM embeddings of CRM-like sentences, widened to the table size with small
noise (re-normalized), so the neighbourhood structure is that of real text.

    .venv/bin/python bench/retrieval.py [--tenants 20] [--rows-per-tenant 10000] [--queries 300] [--ann]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SUBJECTS = ["the budget", "a competitor quote", "the renewal", "late reports", "paid social", "SEO results",
            "the website redesign", "a strategy workshop", "pricing", "the contract", "onboarding", "analytics"]
VERBS = ["asked about", "complained about", "is happy with", "wants to revisit", "needs approval for",
         "compared us on", "postponed", "shared numbers on", "raised concerns on", "agreed next steps on"]


def corpus(n: int, rng: np.random.Generator) -> list[str]:
    names = ["Ann", "Bob", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana"]
    return [f"{rng.choice(names)} {rng.choice(VERBS)} {rng.choice(SUBJECTS)} in week {rng.integers(1, 52)}; "
            f"follow-up item {i}." for i in range(n)]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return 1000 * values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]


def build_table(tenants: list[str], rows_per_tenant: int, base_texts: list[str], base_vecs: np.ndarray,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    import pyarrow as pa

    from serving.rag.store import SCHEMA, ensure_indices, open_table

    table = open_table(create=True)
    per_tenant = {}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for tenant in tenants:
        pick = rng.integers(0, len(base_vecs), rows_per_tenant)
        vecs = base_vecs[pick] + rng.normal(0, 0.02, (rows_per_tenant, base_vecs.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        per_tenant[tenant] = vecs
        ids = [str(uuid.uuid4()) for _ in range(rows_per_tenant)]
        columns = {
            "chunk_id": [f"note:{i}:0" for i in ids], "tenant_id": [tenant] * rows_per_tenant,
            "source_type": ["note"] * rows_per_tenant, "kind": ["note"] * rows_per_tenant, "source_id": ids,
            "chunk_index": [0] * rows_per_tenant, "contact_id": [None] * rows_per_tenant,
            "company_id": [None] * rows_per_tenant, "deal_id": [None] * rows_per_tenant,
            "occurred_at": [now] * rows_per_tenant, "text": [base_texts[j] for j in pick],
            "text_hash": ["x"] * rows_per_tenant,
        }
        arrays = [pa.array(columns[f.name], type=f.type) for f in SCHEMA if f.name != "vector"]
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]))
        table.add(pa.Table.from_arrays(arrays, schema=SCHEMA))
    ensure_indices(table)
    table.optimize()
    return per_tenant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--rows-per-tenant", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--base-texts", type=int, default=1500)
    parser.add_argument("--ann", action="store_true", help="also build an IVF_PQ index and measure it")
    args = parser.parse_args()
    os.environ["CRM_HOME"] = tempfile.mkdtemp(prefix="bench-retrieval-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from serving.embeddings import embed, embed_one
    from serving.rag.retrieve import search
    from serving.rag.store import open_table

    rng = np.random.default_rng(5)
    texts = corpus(args.base_texts, rng)
    t0 = time.perf_counter()
    base_vecs = embed(texts)
    print(f"embedded {len(texts)} base texts in {time.perf_counter() - t0:.1f}s")
    tenants = [str(uuid.uuid4()) for _ in range(args.tenants)]
    t0 = time.perf_counter()
    per_tenant = build_table(tenants, args.rows_per_tenant, texts, base_vecs, rng)
    total = args.tenants * args.rows_per_tenant
    print(f"table: {total:,} rows, {args.tenants} tenants x {args.rows_per_tenant:,} (built in "
          f"{time.perf_counter() - t0:.0f}s)")

    questions = [f"Who {rng.choice(VERBS)} {rng.choice(SUBJECTS)}?" for _ in range(args.queries)]
    t0 = time.perf_counter()
    for q in set(questions):
        embed_one(q)  # warm the query cache: what follows times retrieval only
    embed_ms = 1000 * (time.perf_counter() - t0) / len(set(questions))
    asked = [tenants[i % len(tenants)] for i in range(args.queries)]

    def run(label: str, mode: str = "vector") -> list[list[str]]:
        lat, out = [], []
        for tenant, q in zip(asked, questions, strict=True):
            t = time.perf_counter()
            hits = search(tenant, q, mode=mode, k=10)
            lat.append(time.perf_counter() - t)
            assert all(h.source_id for h in hits)
            out.append([h.chunk_id for h in hits])
        print(f"{label:<36} p50 {percentile(lat, .5):7.2f} ms   p95 {percentile(lat, .95):7.2f} ms")
        return out

    table = open_table()
    ids = {t: table.search().where(f"tenant_id = '{t}'").select(["chunk_id"]).limit(None).to_arrow()
           .column("chunk_id").to_pylist() for t in tenants}
    # rows come back in insertion order, matching per_tenant's rows
    lat, exact = [], []
    for tenant, q in zip(asked, questions, strict=True):
        vec = embed_one(q)
        t = time.perf_counter()
        scores = per_tenant[tenant] @ vec
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top])]
        lat.append(time.perf_counter() - t)
        exact.append([ids[tenant][i] for i in top])
    print(f"\nquery embedding (MiniLM, 1 text): {embed_ms:.1f} ms mean (not in the figures below)")
    print(f"{'numpy exact (baseline, in memory)':<34} p50 {percentile(lat, .5):7.2f} ms   "
          f"p95 {percentile(lat, .95):7.2f} ms")
    lance = run("LanceDB vector, tenant prefilter")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(lance, exact, strict=True)])
    print(f"{'':<34} recall@10 vs exact = {recall:.3f}")
    run("LanceDB full-text, tenant prefilter", "fts")
    run("LanceDB hybrid (RRF), prefilter", "hybrid")
    if args.ann:
        t0 = time.perf_counter()
        table.create_index("vector", config=__import__("lancedb.index", fromlist=["IvfPq"]).IvfPq(
            distance_type="cosine", num_partitions=max(1, int(np.sqrt(total))), num_sub_vectors=48))
        print(f"\nIVF_PQ index built in {time.perf_counter() - t0:.0f}s")
        ann = run("LanceDB IVF_PQ, tenant prefilter")
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ann, exact, strict=True)])
        print(f"{'':<34} recall@10 vs exact = {recall:.3f}")


if __name__ == "__main__":
    main()

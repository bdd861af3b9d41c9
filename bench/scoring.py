"""Benchmark: batch scoring rows/s of the serving path beside raw Booster.predict, training time vs rows, and
(with --live-home) the live feature query's time per entity beside another compiled form of it.

    .venv/bin/python bench/scoring.py [--rows 100000]
    .venv/bin/python bench/scoring.py --live-home .crm [--against DIR] [--per-agency 40]

The serving path (serving.scoring.score_frame) encodes a polars feature frame with the model's bundle,
predicts, calibrates, assigns tiers and builds result objects; the baseline is Booster.predict on the
numpy matrix of the same rows, in the same run, same thread count (1, as on the serving path).
With explanations, the baseline is Booster.predict(pred_contrib=True). No MLflow: models are fitted in
memory on a synthetic lead mart with the real mart's shape (numeric windows, categoricals, nulls).

--live-home times crm.live_features.compute, the query the refresher, `?fresh=true` and what-if run, on a CRM_HOME
with a loaded demo and a pipeline run (its PostgreSQL, under each agency's RLS): touched sets of one and of 25
scored entities (random, the same ones for every form), per entity, median of --repeat rounds. The baseline is
another compiled form of the same marts in the same run, alternating with it round by round (e.g. the form
before a feature change, kept from dbt/target/live_sql/<digest>/: --against that folder). The machine is shared:
read the ratio, not the absolutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import time
import uuid
from pathlib import Path

import numpy as np
import polars as pl

from models_ml.config import LightGBMParams, lead_config
from models_ml.train import fit
from serving.models import LoadedModel
from serving.scoring import score_frame


def synthetic_leads(contacts: int, months: int = 12, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [str(uuid.uuid4()) for _ in range(contacts)]
    tenant = rng.choice([str(uuid.uuid4()) for _ in range(5)], contacts)
    source = rng.choice(["referral", "paid_search", "organic", "events", "webinar"], contacts)
    size = rng.choice(["1-10", "11-50", "51-200", "201-1000", "1000+", "unknown"], contacts)
    engagement = rng.gamma(2.0, 1.0, contacts)
    parts = []
    for m in range(months):
        as_of = dt.date(2025, 1, 31) + dt.timedelta(days=30 * m)
        cols = {f"{k}_{d}d": rng.poisson(engagement * w * d / 30) for k, w in
                (("emails_replied", 0.4), ("web_visits", 1.5), ("emails_opened", 1.0), ("meetings", 0.1))
                for d in (7, 30, 90)}
        days_since = np.where(rng.random(contacts) < 0.1, np.nan, rng.exponential(30 / (0.5 + engagement)))
        logit = -3.5 + 0.5 * cols["emails_replied_30d"] + 0.1 * cols["web_visits_30d"] + (source == "referral")
        label = (rng.random(contacts) < 1 / (1 + np.exp(-logit))).astype(np.int8)
        parts.append(pl.DataFrame({"tenant_id": tenant, "contact_id": ids, "as_of_date": [as_of] * contacts,
                                   "lead_source": source, "company_size": size, **cols,
                                   "days_since_last_activity": days_since, "converted_90d": label}))
    return pl.concat(parts)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def scoring_bench(rows: int) -> None:
    frame = synthetic_leads(max(rows // 12, 2000))
    cfg = lead_config(purge_days=0, val_periods=1, test_periods=1, lgbm=LightGBMParams(max_rounds=300))
    result = fit(frame, cfg)
    model = LoadedModel("lead_score", "bench", result.booster, result.bundle)
    batch = frame.head(rows)
    x = result.bundle.encode(batch)
    booster = result.booster
    print(f"model: {booster.num_trees()} trees, {len(result.bundle.features)} features; batch of {batch.height} rows")
    raw = best_of(lambda: booster.predict(x, raw_score=True, num_threads=1))
    path = best_of(lambda: score_frame(model, batch, explain=False))
    print(f"  raw Booster.predict            {batch.height / raw:>12,.0f} rows/s")
    print(f"  scoring path (no factors)      {batch.height / path:>12,.0f} rows/s   ratio to raw {raw / path:.2f}")
    n = min(batch.height, 20_000)
    small, xs = batch.head(n), x[:n]
    raw_c = best_of(lambda: booster.predict(xs, pred_contrib=True, num_threads=1), repeat=2)
    path_c = best_of(lambda: score_frame(model, small, explain=True), repeat=2)
    print(f"  raw Booster.predict(contrib)   {n / raw_c:>12,.0f} rows/s")
    print(f"  scoring path (with factors)    {n / path_c:>12,.0f} rows/s   ratio to raw {raw_c / path_c:.2f}")
    try:
        import lleaves  # noqa: F401
    except ImportError:
        print("  lleaves: not installed (optional compiled trees; not part of the project's dependencies)")


def training_bench(sizes: list[int]) -> None:
    print("training time vs rows (LightGBM, early stopping, <= 500 trees; 'total' adds calibration, baseline)")
    for contacts in sizes:
        frame = synthetic_leads(contacts)
        cfg = lead_config(purge_days=0, val_periods=1, test_periods=1, lgbm=LightGBMParams(max_rounds=500))
        started = time.perf_counter()
        result = fit(frame, cfg)
        total = time.perf_counter() - started
        print(f"  {result.split.train.height:>9,} train rows: LightGBM {result.train_seconds:6.2f}s "
              f"({result.best_iteration} trees), total {total:6.2f}s")


def _timed_compute(queries, tenant: str, kind: str, ids: list[str] | None, now: dt.datetime) -> tuple[float, int]:
    from crm.db.engine import tenant_session
    from crm.live_features import compute

    with tenant_session(tenant) as session:
        started = time.perf_counter()
        rows = compute(session, queries, kind, ids, now).height
        return time.perf_counter() - started, rows


def live_query_bench(home: Path, against: Path | None, per_agency: int, repeat: int, agencies: int) -> None:
    os.environ["CRM_HOME"] = str(home.resolve())
    from sqlalchemy import text

    from crm.db.engine import admin_session
    from crm.live_features import MARTS, FeatureQueries
    from pipelines.lib.live_sql import feature_queries

    forms = {"current": feature_queries()}
    if against is not None:
        forms["against"] = FeatureQueries(**{k: (against / f"{m}.sql").read_text() for k, m in MARTS.items()},
                                          digest=against.name)
    with admin_session() as session:
        tenants = [str(t) for t in session.execute(text("select id from tenants order by id")).scalars()][:agencies]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rng = random.Random(7)
    print(f"live feature query, {len(tenants)} agencies, per entity (median of {repeat} rounds; forms alternate)")
    print(f"  {'entity':<8} {'touched set':<14} " + "".join(f"{name:>16}" for name in forms)
          + ("   ratio current/against" if against else ""))
    for kind in ("account", "lead"):
        population = {t: _scored_ids(t, kind) for t in tenants}
        picked = {t: rng.sample(ids, min(per_agency, len(ids))) for t, ids in population.items()}
        shapes = {"1 entity": [(t, [i]) for t, ids in picked.items() for i in ids[:max(1, per_agency // 4)]],
                  "25 entities": [(t, ids[k:k + 25]) for t, ids in picked.items() for k in range(0, len(ids), 25)]}
        for shape, calls in shapes.items():
            per_entity: dict[str, list[float]] = {name: [] for name in forms}
            for _ in range(repeat):
                for name, queries in forms.items():
                    seconds = rows = 0
                    for tenant, ids in calls:
                        took, got = _timed_compute(queries, tenant, kind, ids, now)
                        seconds, rows = seconds + took, rows + got
                    per_entity[name].append(seconds / max(rows, 1))
            med = {name: statistics.median(v) for name, v in per_entity.items()}
            line = f"  {kind:<8} {shape:<14} " + "".join(f"{med[n] * 1000:>13.2f} ms" for n in forms)
            if against:
                line += f"   {med['current'] / med['against']:.2f}"
            print(line, flush=True)
        print(f"  ({kind}: {sum(len(v) for v in population.values()):,} scored in these agencies)")


def _scored_ids(tenant: str, kind: str) -> list[str]:
    """The agency's scored leads or accounts (the last pipeline run's population); before any scoring, its
    customer companies or its contacts (those outside the population cost a query and give no row)."""
    from sqlalchemy import text

    from crm.db.engine import tenant_session

    with tenant_session(tenant) as session:
        ids = [str(v) for v in session.execute(
            text("select entity_id from scores where entity_type = :e order by entity_id"), {"e": kind}).scalars()]
        if not ids:
            table = "companies where customer_since is not null" if kind == "account" else "contacts"
            ids = [str(v) for v in session.execute(text(f"select id from {table} order by id")).scalars()]
        return ids


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train-sizes", default="2000,8000,32000")
    parser.add_argument("--live-home", type=Path, default=None,
                        help="time the live feature query on this CRM_HOME's loaded demo instead")
    parser.add_argument("--against", type=Path, default=None,
                        help="a folder with another compiled form (lead_features.sql, account_features.sql)")
    parser.add_argument("--per-agency", type=int, default=40, help="touched entities sampled per agency and type")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agencies", type=int, default=1000, help="time only the first N agencies (by id)")
    args = parser.parse_args()
    if args.live_home is not None:
        from crm.db.embedded import release_embedded_servers

        try:
            live_query_bench(args.live_home, args.against, args.per_agency, args.repeat, args.agencies)
        finally:
            release_embedded_servers()
    else:
        scoring_bench(args.rows)
        training_bench([int(s) for s in args.train_sizes.split(",")])

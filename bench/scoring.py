"""Benchmark: batch scoring rows/s of the serving path beside raw Booster.predict, and training time vs rows.

    .venv/bin/python bench/scoring.py [--rows 100000]

The serving path (serving.scoring.score_frame) encodes a polars feature frame with the model's bundle,
predicts, calibrates, assigns tiers and builds result objects; the baseline is Booster.predict on the
numpy matrix of the same rows, in the same run, same thread count (1, as on the serving path).
With explanations, the baseline is Booster.predict(pred_contrib=True). No MLflow: models are fitted in
memory on a synthetic lead mart with the real mart's shape (numeric windows, categoricals, nulls).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train-sizes", default="2000,8000,32000")
    args = parser.parse_args()
    scoring_bench(args.rows)
    training_bench([int(s) for s in args.train_sizes.split(",")])

"""Benchmark: the learned churn model beside BG/NBD and recency, same customers, same question, one run.

In a fresh CRM_HOME (own embedded PostgreSQL and warehouse): load the demo -> run the pipeline -> take the
churn model's test window (the newest labelled month-ends of marts.account_features, as models_ml.split
chooses them) on the activity-churn agencies (the question there: no order in the 90 days after as_of),
and score those rows three ways:
  (a) learned: the registered `churn_risk` champion, through its own bundle and calibration;
  (b) BG/NBD: fitted per agency and per as_of on every customer's order history before it (distinct order
      days from the warehouse's staging activities, attributed to a company as the marts do), serving
      P(no purchase in the next 90 days);
  (c) recency: days since the last order (ranking); its probabilities for Brier/ECE come from a logistic
      fit on the earlier labelled month-ends of the same agencies.
The mart only chooses the rows and the label; every BG/NBD and recency input is computed here from orders,
so the bench reads any account population (with or without lapsed customers). With demo data the
generator's own probabilities are printed as the bound. Nothing is asserted: every figure is printed.

    .venv/bin/python bench/churn_baselines.py [--size small|medium] [--home DIR] [--keep] [--reuse]
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

from bench_io import demo_bench_main, quiet_fd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

HORIZON_DAYS = 90

# every order with the company it belongs to: its own, else its contact's (as int_activities_attributed)
ORDERS_SQL = """
select cast(a.tenant_id as varchar) as tenant_id, cast(coalesce(a.company_id, c.company_id) as varchar) as company_id,
       a.occurred_at
  from staging.stg_crm__activities as a
  left join staging.stg_crm__contacts as c on c.tenant_id = a.tenant_id and c.contact_id = a.contact_id
 where a.activity_type = 'order' and coalesce(a.company_id, c.company_id) is not null
"""


def load_and_run(size: str, home: Path) -> None:
    from rich.console import Console

    from app.demo import load_demo
    from pipelines.run import run_pipeline

    started = time.perf_counter()
    load_demo(size, console=Console(stderr=True, quiet=True))
    print(f"  demo loaded in {time.perf_counter() - started:.1f} s", flush=True)
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with quiet_fd(1, logs / "bench-pipeline-stdout.log"):
        result = run_pipeline("not key:rag_index", raise_on_error=False)
    print(f"  pipeline in {time.perf_counter() - started:.1f} s, success={result.success}", flush=True)


def labelled_rows() -> tuple[pl.DataFrame, pl.DataFrame, object]:
    """(activity-mode rows of the churn test window, activity-mode rows before it, the churn config)."""
    from models_ml.config import churn_config
    from models_ml.features import read_features
    from models_ml.split import time_split

    cfg = churn_config()
    frame = read_features(cfg, labelled_only=True)
    split = time_split(frame, cfg)
    activity = pl.col("churn_mode") == "activity"
    earlier = pl.concat([split.train, split.val], how="diagonal_relaxed")
    print(f"  churn split: {getattr(split, 'name', '') or 'configured'}; test month-ends "
          f"{split.test['as_of_date'].min()} .. {split.test['as_of_date'].max()}", flush=True)
    return split.test.filter(activity), earlier.filter(activity), cfg


def order_histories(rows: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Per mart row: x, t_x, T and days since the last order from orders before its as_of; and per
    (tenant, as_of) the histories of every customer that had ordered by then (what BG/NBD is fitted on)."""
    from crm.warehouse import query

    orders = pl.from_arrow(query(ORDERS_SQL)).with_columns(
        pl.col("occurred_at").dt.replace_time_zone(None).dt.cast_time_unit("us"))
    orders = orders.with_columns(pl.col("occurred_at").dt.date().alias("day"))
    tenants = rows["tenant_id"].unique().to_list()
    orders = orders.filter(pl.col("tenant_id").is_in(tenants))
    population: dict = {}
    features = []
    for (tenant_id, as_of_date), _ in rows.group_by(["tenant_id", "as_of_date"], maintain_order=True):
        as_of_at = dt.datetime.combine(as_of_date + dt.timedelta(days=1), dt.time())
        seen = orders.filter((pl.col("tenant_id") == tenant_id) & (pl.col("occurred_at") < as_of_at))
        per = seen.group_by("company_id").agg(
            pl.col("day").n_unique().alias("order_days"), pl.col("occurred_at").min().alias("first"),
            pl.col("occurred_at").max().alias("last"))
        hist = per.with_columns(
            (pl.col("order_days") - 1).cast(pl.Float64).alias("x"),
            ((pl.col("last") - pl.col("first")).dt.total_seconds() / 86_400).alias("t_x"),
            ((pl.lit(as_of_at) - pl.col("first")).dt.total_seconds() / 86_400).alias("T"),
            ((pl.lit(as_of_at) - pl.col("last")).dt.total_seconds() / 86_400).alias("recency_days"),
        ).with_columns(pl.lit(tenant_id).alias("tenant_id"), pl.lit(as_of_date).alias("as_of_date"))
        population[(tenant_id, as_of_date)] = hist
        features.append(hist.select("tenant_id", "company_id", "as_of_date", "x", "t_x", "T", "recency_days"))
    joined = rows.join(pl.concat(features), on=["tenant_id", "company_id", "as_of_date"], how="left")
    return joined, population


def bgnbd_churn(rows: pl.DataFrame, population: dict) -> tuple[np.ndarray, list[str]]:
    """P(no order in the next 90 days) per row from a BG/NBD fitted on its agency's customers at its as_of."""
    from crm.btyd import BgNbd

    prob = np.full(rows.height, np.nan)
    notes = []
    index = rows.with_row_index("i")
    for (tenant_id, as_of_date), part in index.group_by(["tenant_id", "as_of_date"], maintain_order=True):
        hist = population[(tenant_id, as_of_date)]
        try:
            model = BgNbd.fit(hist["x"].to_numpy(), hist["t_x"].to_numpy(), hist["T"].to_numpy())
        except ValueError as exc:
            notes.append(f"{tenant_id[:8]} {as_of_date}: {exc}")
            continue
        known = part.filter(pl.col("x").is_not_null())
        prob[known["i"].to_numpy()] = model.p_no_purchase(HORIZON_DAYS, known["x"].to_numpy(),
                                                          known["t_x"].to_numpy(), known["T"].to_numpy())
        notes.append(f"{tenant_id[:8]} {as_of_date}: {hist.height} customers, r={model.r:.3g} "
                     f"alpha={model.alpha:.3g} a={model.a:.3g} b={model.b:.3g}")
    return prob, notes


def recency_probability(test: pl.DataFrame, earlier: pl.DataFrame, label: str) -> np.ndarray:
    """Days since the last order mapped to a probability by a logistic fit on the earlier month-ends."""
    from sklearn.linear_model import LogisticRegression

    def x(frame: pl.DataFrame) -> np.ndarray:
        return np.log1p(frame["recency_days"].fill_null(10_000.0).to_numpy()).reshape(-1, 1)

    y = earlier[label].cast(pl.Int8).to_numpy()
    if earlier.height == 0 or len(np.unique(y)) < 2:
        return np.full(test.height, np.nan)
    return LogisticRegression(C=1e6, max_iter=1000).fit(x(earlier), y).predict_proba(x(test))[:, 1]


def learned_churn(test: pl.DataFrame, cfg) -> tuple[np.ndarray | None, str]:
    from models_ml.features import with_fitted_features
    from models_ml.registry import current_champion, load_version
    from models_ml.tracking import use_project_store

    client = use_project_store()
    version = current_champion(client, cfg.model_name)
    if version is None:
        return None, "no champion registered"
    booster, bundle = load_version(cfg.model_name, version)
    x = bundle.encode(with_fitted_features(test, cfg.entity_type))   # BG/NBD per agency and month-end, as in training
    return bundle.calibrate(booster.predict(x, raw_score=True)), f"{cfg.model_name} v{version}"


def truth_probability(test: pl.DataFrame, cfg) -> np.ndarray | None:
    from models_ml.evaluate import truth_path

    path = truth_path(cfg)
    if path is None:
        return None
    truth = pl.read_parquet(path).select(
        pl.col("tenant_id").cast(pl.Utf8), pl.col(cfg.entity_key).cast(pl.Utf8), pl.col("as_of_date").cast(pl.Date),
        pl.col(cfg.truth_prob).alias("p_true"))
    return test.select(cfg.keys).join(truth, on=cfg.keys, how="left")["p_true"].to_numpy()


def report(test: pl.DataFrame, scores: dict[str, tuple[np.ndarray, np.ndarray | None]], label: str) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from models_ml.metrics import classification_metrics

    y = test[label].cast(pl.Int8).to_numpy()
    print(f"\n{'':40}{'rows':>6}{'ROC AUC':>9}{'PR AUC':>8}{'Brier':>8}{'ECE':>7}{'AUC/first':>13}")
    base_auc = None
    for name, (rank, prob) in scores.items():
        ok = np.isfinite(rank)
        if ok.sum() == 0 or len(np.unique(y[ok])) < 2:
            print(f"{name:40}{int(ok.sum()):>6}   (cannot be measured on these rows)")
            continue
        auc, pr_auc = roc_auc_score(y[ok], rank[ok]), average_precision_score(y[ok], rank[ok])
        if prob is not None and np.isfinite(prob[ok]).all():
            calibrated = classification_metrics(y[ok], prob[ok])
            brier, ece = f"{calibrated['brier']:8.4f}", f"{calibrated['ece']:7.4f}"
        else:
            brier, ece = f"{'-':>8}", f"{'-':>7}"
        base_auc = base_auc or auc
        print(f"{name:40}{int(ok.sum()):>6}{auc:9.4f}{pr_auc:8.4f}{brier}{ece}{auc / base_auc:13.3f}")


def run(size: str, home: Path, reuse: bool) -> None:
    print(f"churn baselines bench, {size} demo, CRM_HOME={home}", flush=True)
    if not reuse:
        load_and_run(size, home)
    test, earlier, cfg = labelled_rows()
    if test.height == 0:
        raise SystemExit("no activity-churn agency has labelled rows in the test window")
    test, population = order_histories(test)
    earlier, _ = order_histories(earlier)
    started = time.perf_counter()
    bgnbd, notes = bgnbd_churn(test, population)
    fit_s = time.perf_counter() - started
    learned, model_name = learned_churn(test, cfg)
    truth = truth_probability(test, cfg)
    recency = test["recency_days"].fill_null(np.inf).to_numpy().astype(float)
    lapsed = int((test["recency_days"] > HORIZON_DAYS).sum())
    y = test[cfg.label].cast(pl.Int8).to_numpy()

    print(f"\nactivity-churn agencies: {test['tenant_id'].n_unique()}; test month-ends: "
          f"{', '.join(str(d) for d in sorted(test['as_of_date'].unique()))}")
    print(f"rows (customer x month-end): {test.height}; churned (no order in the next {HORIZON_DAYS} days): "
          f"{int(y.sum())} ({y.mean():.1%}); lapsed (no order in the {HORIZON_DAYS} days before as_of): {lapsed}; "
          f"without an order before as_of: {int(test['x'].is_null().sum())}")
    print(f"BG/NBD fits ({fit_s:.2f} s for {len(notes)}):")
    for note in notes:
        print(f"  {note}")
    scores: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    if learned is not None:
        scores[f"learned ({model_name})"] = (learned, learned)
    else:
        print(f"learned model: {model_name}")
    scores["BG/NBD P(no order in 90 d)"] = (bgnbd, bgnbd)
    scores["recency (days since last order)*"] = (recency, recency_probability(test, earlier, cfg.label))
    if truth is not None and np.isfinite(truth).any():
        scores["generator's probabilities (its rows)"] = (np.where(np.isfinite(truth), truth, np.nan), truth)
    report(test, scores, cfg.label)
    print("* recency ranks by days; its Brier/ECE use a logistic map fitted on the earlier month-ends.\n"
          "  The generator's probabilities (the bound) exist only for the rows it modelled as accounts.")
    if lapsed and lapsed < test.height:
        active = (test["recency_days"] <= HORIZON_DAYS).to_numpy()
        print(f"\nactive customers only ({int(active.sum())} rows):")
        report(test.filter(pl.Series(active)), {k: (r[active], None if p is None else p[active])
                                                for k, (r, p) in scores.items()}, cfg.label)


def main() -> None:
    demo_bench_main(__doc__.splitlines()[0], "crm-bench-churn", run)

if __name__ == "__main__":
    main()

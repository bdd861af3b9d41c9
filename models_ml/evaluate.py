"""Evaluation beyond the headline metrics: by tenant size, and against the demo's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from crm.settings import get_settings
from models_ml.config import TrainConfig
from models_ml.metrics import classification_metrics

# Buckets by the number of distinct entities a tenant has in the test window.
SIZE_BUCKETS = ((500, "small (<500)"), (5000, "medium (500-4999)"), (float("inf"), "large (5000+)"))


def size_bucket(entities: int) -> str:
    return next(label for limit, label in SIZE_BUCKETS if entities < limit)


def by_tenant_size(test: pl.DataFrame, prob: np.ndarray, cfg: TrainConfig) -> list[dict]:
    """Metrics per tenant-size bucket (a model can be good overall and poor for the small agencies)."""
    frame = test.select("tenant_id", cfg.entity_key, pl.col(cfg.label).cast(pl.Int8).alias("y")).with_columns(
        pl.Series("p", prob))
    sizes = frame.group_by("tenant_id").agg(pl.col(cfg.entity_key).n_unique().alias("entities"))
    frame = frame.join(sizes, on="tenant_id").with_columns(
        pl.col("entities").map_elements(size_bucket, return_dtype=pl.Utf8).alias("bucket"))
    out = []
    for (bucket,), part in sorted(frame.group_by("bucket"), key=lambda kv: kv[0][0]):
        m = classification_metrics(part["y"].to_numpy(), part["p"].to_numpy())
        out.append({"bucket": bucket, "tenants": part["tenant_id"].n_unique(), "rows": part.height,
                    "positives": int(part["y"].sum()), "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                    "brier": m["brier"], "ece": m["ece"]})
    return out


def truth_path(cfg: TrainConfig) -> Path | None:
    if not cfg.truth_file:
        return None
    path = Path(cfg.truth_dir or get_settings().ground_truth_dir) / cfg.truth_file
    return path if path.exists() else None


def compare_with_truth(test: pl.DataFrame, prob: np.ndarray, cfg: TrainConfig,
                       baseline_prob: np.ndarray | None = None) -> dict[str, float] | None:
    """Model AUC / ground-truth-probability AUC on the same test rows (1.0 = as good as possible)."""
    path = truth_path(cfg)
    if path is None:
        return None
    truth = pl.read_parquet(path).select(
        pl.col("tenant_id").cast(pl.Utf8), pl.col(cfg.entity_key).cast(pl.Utf8), pl.col("as_of_date").cast(pl.Date),
        pl.col(cfg.truth_prob).alias("p_true"), pl.col(cfg.label).alias("label_true"))
    frame = test.select(*cfg.keys, pl.col(cfg.label).cast(pl.Int8).alias("y")).with_columns(pl.Series("p", prob))
    if baseline_prob is not None:
        frame = frame.with_columns(pl.Series("p_base", baseline_prob))
    joined = frame.join(truth, on=cfg.keys, how="inner")
    if joined.height == 0 or joined["y"].n_unique() < 2:
        return None
    y = joined["y"].to_numpy()
    out = {"truth_rows": float(joined.height), "truth_coverage": joined.height / frame.height,
           "truth_label_agreement": float((joined["label_true"].cast(pl.Int8) == joined["y"]).mean()),
           "model_auc_on_truth_rows": float(roc_auc_score(y, joined["p"].to_numpy())),
           "truth_auc": float(roc_auc_score(y, joined["p_true"].to_numpy()))}
    out["auc_ratio_to_truth"] = out["model_auc_on_truth_rows"] / out["truth_auc"]
    if baseline_prob is not None:
        out["baseline_auc_ratio_to_truth"] = float(roc_auc_score(y, joined["p_base"].to_numpy())) / out["truth_auc"]
    return out

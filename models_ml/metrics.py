"""Classification metrics for scores that are read as probabilities and ranked by marketers."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean predicted| over equal-width probability bins, weighted by bin size."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y))


def top_decile(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(precision in the top 10% by score, lift = that precision / base rate)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    k = max(1, round(len(y) * 0.1))
    order = np.argsort(-p, kind="stable")[:k]
    precision = float(y[order].mean())
    base = float(y.mean())
    return precision, (precision / base if base > 0 else float("nan"))


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    both = len(np.unique(y)) == 2
    precision, lift = top_decile(y, p)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "precision_top_decile": precision,
        "lift_top_decile": lift,
        "base_rate": float(y.mean()),
        "rows": float(len(y)),
    }

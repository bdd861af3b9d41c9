"""Fitting the leads' transparent fallback (`crm.engagement_model.EngagementModel`: terms, scoring, reasons).

Terms (columns of `marts.lead_features`; a missing column or null reads as no engagement):
- counts, as log1p(count): emails replied (30 d and 90 d), meetings, calls, form submits, pricing-page and
  other high-intent visits, email clicks (90 d), web visits (30 d), emails opened (90 d);
- recencies, as freshness = 1 - min(days, 180) / 180 (1 = today, 0 = nothing in the 180 days the marts
  look back): days since the last reply and since the last activity.

With enough labelled rows of the agency's own (`MIN_POSITIVES` converted and `MIN_NEGATIVES` not), the
weights are an L2-regularised logistic regression, refitted without any term that came out negative so
that more engagement never lowers a score, and Platt-calibrated on cross-validated margins. Otherwise
the weights are the documented prior `PRIOR_WEIGHTS` and the intercept is set so the mean probability over
the agency's leads equals the base rate given (or `DEFAULT_BASE_RATE`).

Reasons follow the learned model's factors: a term's contribution is its weight times the row's value
minus the fitted population's mean, and its impact is in score points, the score minus the score without it.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from crm.engagement_model import COLUMNS, PRIOR_WEIGHTS, EngagementModel, engagement_terms
from crm.model_bundle import sigmoid
from models_ml.calibration import fit_platt

DEFAULT_BASE_RATE = 0.05
MIN_POSITIVES = 20
MIN_NEGATIVES = 20


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def fit_engagement(frame: pl.DataFrame, label: str | None = None, base_rate: float | None = None,
                   min_positives: int = MIN_POSITIVES, min_negatives: int = MIN_NEGATIVES, c: float = 1.0,
                   seed: int = 7) -> EngagementModel:
    """Learned weights when `label` has enough of both outcomes among its non-null rows, else the prior."""
    terms = engagement_terms(frame)
    reference = terms.mean(axis=0) if frame.height else np.zeros(len(COLUMNS))
    positives = negatives = 0
    if label is not None and label in frame.columns:
        known = frame[label].is_not_null().to_numpy()
        y = frame[label].cast(pl.Int8).fill_null(0).to_numpy()[known]
        positives, negatives = int(y.sum()), int(len(y) - y.sum())
        if positives >= min_positives and negatives >= min_negatives:
            return _learned(terms[known], y, reference, c, seed)
        if positives + negatives and base_rate is None:   # the agency's own rate, shrunk towards the default
            base_rate = (positives + 10 * DEFAULT_BASE_RATE) / (positives + negatives + 10)
    return _prior(terms, reference, DEFAULT_BASE_RATE if base_rate is None else base_rate, positives, negatives)


def _prior(terms: np.ndarray, reference: np.ndarray, base_rate: float, positives: int,
           negatives: int) -> EngagementModel:
    w = np.array([PRIOR_WEIGHTS[n] for n in COLUMNS])
    if len(terms):
        engaged = terms @ w

        def gap(b: float) -> float:
            return float(sigmoid(b + engaged).mean() - base_rate)

        intercept = brentq(gap, -50.0, 50.0)
    else:
        intercept = _logit(base_rate) - float(reference @ w)
    return EngagementModel(kind="prior", weights=dict(zip(COLUMNS, w.tolist(), strict=True)),
                           intercept=float(intercept), reference=dict(zip(COLUMNS, reference.tolist(), strict=True)),
                           positives=positives, negatives=negatives)


def _learned(terms: np.ndarray, y: np.ndarray, reference: np.ndarray, c: float,
             seed: int) -> EngagementModel:
    kept = list(range(len(COLUMNS)))
    while True:   # drop terms that came out negative: engagement may only ever raise a score
        lr = LogisticRegression(C=c, max_iter=2000).fit(terms[:, kept], y)
        negative = [k for k, coef in zip(kept, lr.coef_[0], strict=True) if coef < 0]
        if not negative:
            break
        kept = [k for k in kept if k not in negative]
        if not kept:
            break
    w = np.zeros(len(COLUMNS))
    if kept:
        w[kept] = lr.coef_[0]
        folds = StratifiedKFold(n_splits=min(5, int(min(y.sum(), len(y) - y.sum()))), shuffle=True,
                                random_state=seed)
        margin = cross_val_predict(LogisticRegression(C=c, max_iter=2000), terms[:, kept], y, cv=folds,
                                   method="decision_function")
        calibration = fit_platt(margin, y)
        intercept = float(lr.intercept_[0])
    else:   # nothing engagement-like predicts conversion here: the base rate for everyone
        calibration, intercept = {"kind": "none"}, _logit(float(y.mean()))
    return EngagementModel(kind="learned", weights=dict(zip(COLUMNS, w.tolist(), strict=True)), intercept=intercept,
                           reference=dict(zip(COLUMNS, reference.tolist(), strict=True)), calibration=calibration,
                           positives=int(y.sum()), negatives=int(len(y) - y.sum()))


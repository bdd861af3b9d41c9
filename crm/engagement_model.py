"""The leads' transparent fallback model as it is stored and served: a calibrated logistic model over a fixed set
of engagement columns of `marts.lead_features` (fitted by `models_ml.engagement.fit_engagement`).

Terms (a missing column or null reads as no engagement):
- counts, as log1p(count): emails replied (30 d and 90 d), meetings, calls, form submits, pricing-page and
  other high-intent visits, email clicks (90 d), web visits (30 d), emails opened (90 d);
- recencies, as freshness = 1 - min(days, 180) / 180 (1 = today, 0 = nothing in the 180 days the marts
  look back): days since the last reply and since the last activity.

Reasons follow the learned model's factors: a term's contribution is its weight times the row's value
minus the fitted population's mean, and its impact is in score points, the score minus the score without it.
Here, not in models_ml, because serving scores with it (serving may import crm only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from crm.model_bundle import calibrate

COUNT_COLUMNS = ("emails_replied_30d", "emails_replied_90d", "meetings_90d", "calls_90d", "form_submits_90d",
                 "pricing_visits_90d", "high_intent_visits_90d", "emails_clicked_90d", "web_visits_30d",
                 "emails_opened_90d")
RECENCY_COLUMNS = ("days_since_last_reply", "days_since_last_activity")
COLUMNS = COUNT_COLUMNS + RECENCY_COLUMNS
RECENCY_CAP_DAYS = 180.0
# Log-odds per unit of log1p(count) or of freshness: replies and meetings say the most, opens the least.
PRIOR_WEIGHTS = {
    "emails_replied_30d": 0.8, "emails_replied_90d": 0.4, "meetings_90d": 0.8, "calls_90d": 0.3,
    "form_submits_90d": 0.6, "pricing_visits_90d": 0.5, "high_intent_visits_90d": 0.3, "emails_clicked_90d": 0.2,
    "web_visits_30d": 0.2, "emails_opened_90d": 0.1, "days_since_last_reply": 0.5, "days_since_last_activity": 0.5,
}
TOP_REASONS = 5


def engagement_terms(frame: pl.DataFrame) -> np.ndarray:
    """The model's inputs (rows x COLUMNS): log1p counts and recency freshness; absent reads as none."""
    if frame.height == 0:   # an agency with no leads yet (a literal column would make one row)
        return np.zeros((0, len(COLUMNS)))
    exprs = []
    for name in COUNT_COLUMNS:
        value = pl.col(name).cast(pl.Float64) if name in frame.columns else pl.lit(None, dtype=pl.Float64)
        exprs.append(value.fill_nan(None).fill_null(0.0).clip(lower_bound=0.0).log1p().alias(name))
    for name in RECENCY_COLUMNS:
        days = pl.col(name).cast(pl.Float64) if name in frame.columns else pl.lit(None, dtype=pl.Float64)
        days = days.fill_nan(None).fill_null(RECENCY_CAP_DAYS).clip(0.0, RECENCY_CAP_DAYS)
        exprs.append((1.0 - days / RECENCY_CAP_DAYS).alias(name))
    return frame.select(exprs).to_numpy().astype(np.float64, copy=False).reshape(frame.height, len(COLUMNS))


@dataclass(frozen=True)
class EngagementModel:
    kind: str                      # "learned" (own labels) | "prior" (documented weights)
    weights: dict[str, float]
    intercept: float
    reference: dict[str, float]    # the fitted population's mean term values: a contribution is relative to it
    calibration: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    positives: int = 0
    negatives: int = 0

    # -- scoring ------------------------------------------------------------------------------------

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([self.weights[n] for n in COLUMNS]), np.array([self.reference[n] for n in COLUMNS]))

    def margin(self, frame: pl.DataFrame) -> np.ndarray:
        w, _ = self._vectors()
        return self.intercept + engagement_terms(frame) @ w

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """Calibrated P(converts within the horizon) per row."""
        return calibrate(self.calibration, self.margin(frame))

    def reasons(self, frame: pl.DataFrame, k: int = TOP_REASONS) -> list[list[dict[str, Any]]]:
        """Per row, the k terms that moved its score most: {"feature", "value", "impact"} with the mart column,
        the row's raw value (None when absent) and the signed impact in score points (as serving's factors)."""
        if frame.height == 0:
            return []
        w, ref = self._vectors()
        terms = engagement_terms(frame)
        contrib = (terms - ref) * w
        margin = self.intercept + terms @ w
        score = 100 * calibrate(self.calibration, margin)
        impacts = score[:, None] - 100 * calibrate(self.calibration, margin[:, None] - contrib)
        raw = frame.select([pl.col(n) if n in frame.columns else pl.lit(None).alias(n) for n in COLUMNS]).rows()
        top = np.argsort(-np.abs(impacts), axis=1, kind="stable")[:, :k]
        return [[{"feature": COLUMNS[j], "value": _plain(raw[i][j]), "impact": round(float(impacts[i, j]), 1)}
                 for j in top[i]] for i in range(frame.height)]

    # -- (de)serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"model": "engagement_logistic", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngagementModel:
        if data.get("model", "engagement_logistic") != "engagement_logistic":
            raise ValueError(f"not an engagement model: {data.get('model')!r}")
        missing = [n for n in COLUMNS if n not in data["weights"]]
        if missing:
            raise ValueError(f"engagement model lacks weights for {missing}")
        return cls(kind=data["kind"], weights={n: float(data["weights"][n]) for n in COLUMNS},
                   intercept=float(data["intercept"]),
                   reference={n: float(data["reference"][n]) for n in COLUMNS},
                   calibration=dict(data.get("calibration") or {"kind": "none"}),
                   positives=int(data.get("positives", 0)), negatives=int(data.get("negatives", 0)))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value

"""Scores from an agency's own fallback model (crm.tenant_models): BG/NBD churn risk for purchase churn, the tenure
life table for contractual churn, the lead engagement model.

They come out as the learned champion's do (serving.scoring.Score: 0-100, probability, tier, top reasons), with
`model_kind` naming what produced them. BG/NBD has no additive decomposition, so its reasons are counterfactuals
against the agency's typical customer (medians stored with the fit): "Last order 140 days ago: +31" is how many
points the churn risk drops when this customer's days since the last order are replaced by the typical
customer's. The tenure life table's one reason is the same counterfactual on tenure: "Customer for 700 days: +4"
against the agency's typical current customer. The engagement model's reasons are its terms' contributions
(crm.engagement_model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from crm.btyd import FEATURE_COLUMNS as BG_NBD_COLUMNS
from crm.btyd import HORIZON_DAYS, MIN_AGE_DAYS, BgNbd, histories_of
from crm.engagement_model import COLUMNS as ENGAGEMENT_COLUMNS
from crm.engagement_model import EngagementModel
from crm.tenant_models import ModelChoice
from crm.tenure_survival import TENURE_COLUMN, TenureSurvival, tenure_of
from serving.explain import sentence
from serving.scoring import TOP_FACTORS, Score, tiers_of


def bg_nbd_inputs(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in days from the account feature columns (crm.btyd.histories_of)."""
    x, t_x, T, _ = histories_of(frame)
    return x, t_x, T


def bg_nbd_points(model: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Churn risk in points: 100 x P(no order in the next HORIZON_DAYS)."""
    return 100.0 * model.p_no_purchase(HORIZON_DAYS, x, t_x, T)


def _counterfactuals(model: BgNbd, typical: dict[str, float], x, t_x, T) -> dict[str, np.ndarray]:
    """Points with one input replaced by the typical customer's, per input (the other two kept)."""
    gap = T - t_x   # days since the last order
    typical_gap = typical["days_since_last_order"]
    typical_x = typical["order_days_lifetime"] - 1.0
    typical_age = typical["days_since_first_order"]
    as_typical_recency = np.clip(T - typical_gap, 0.0, T)
    age = np.maximum(typical_age, gap + MIN_AGE_DAYS)
    return {
        "days_since_last_order": bg_nbd_points(model, x, np.where(x > 0, as_typical_recency, 0.0), T),
        "order_days_lifetime": bg_nbd_points(model, np.full_like(x, max(typical_x, 0.0)),
                                             t_x if typical_x > 0 else np.zeros_like(t_x), T),
        "days_since_first_order": bg_nbd_points(model, x, np.clip(age - gap, 0.0, age), age),
    }


@dataclass(frozen=True)
class FallbackModel:
    """An agency's fitted fallback, ready to score; `name` is the product model it stands in for."""

    kind: str
    name: str
    version: str
    params: dict[str, Any]

    @classmethod
    def of(cls, choice: ModelChoice, name: str) -> FallbackModel:
        fitted = choice.fitted_at.strftime("%Y-%m-%dT%H:%MZ") if choice.fitted_at else "unfitted"
        return cls(choice.kind, name, f"{choice.kind}@{fitted}", choice.params)

    @property
    def features(self) -> tuple[str, ...]:
        return {"bg_nbd": BG_NBD_COLUMNS, "survival": (TENURE_COLUMN,)}.get(self.kind, ENGAGEMENT_COLUMNS)

    def score(self, frame: pl.DataFrame, entity_key: str, explain: bool = True) -> list[Score]:
        if frame.is_empty():
            return []
        if self.kind == "bg_nbd":
            points, factors = self._bg_nbd(frame, explain)
        elif self.kind == "survival":
            points, factors = self._survival(frame, explain)
        elif self.kind == "engagement":
            points, factors = self._engagement(frame, explain)
        else:
            raise ValueError(f"not a fallback model kind: {self.kind!r}")
        prob = np.round(np.clip(points / 100.0, 0.0, 1.0), 6)
        tiers = tiers_of(self.params.get("tiers", {}), prob * 100)
        ids = frame[entity_key].cast(pl.Utf8).to_list()
        return [Score(entity_id=e, probability=float(p), score=round(p * 100), tier=t,
                      factors=factors[i] if explain else [], model_name=self.name, model_version=self.version,
                      model_kind=self.kind)
                for i, (e, p, t) in enumerate(zip(ids, prob.tolist(), tiers, strict=True))]

    def _bg_nbd(self, frame: pl.DataFrame, explain: bool) -> tuple[np.ndarray, list[list[dict]]]:
        model = BgNbd.from_dict(self.params["model"])
        x, t_x, T = bg_nbd_inputs(frame)
        points = bg_nbd_points(model, x, t_x, T)
        if not explain:
            return points, []
        moved = {name: points - other for name, other in _counterfactuals(model, self.params["typical"], x, t_x, T)
                 .items()}
        raw = frame.select(BG_NBD_COLUMNS).rows(named=True)
        out = []
        for i in range(frame.height):
            ranked = sorted(moved, key=lambda n: -abs(moved[n][i]))[:TOP_FACTORS]
            out.append([_factor(n, raw[i][n], float(moved[n][i])) for n in ranked])
        return points, out

    def _survival(self, frame: pl.DataFrame, explain: bool) -> tuple[np.ndarray, list[list[dict]]]:
        model = TenureSurvival.from_dict(self.params["model"])
        tenure = tenure_of(frame)
        points = 100.0 * model.p_churn(tenure)
        if not explain:
            return points, []
        typical = 100.0 * float(model.p_churn(self.params["typical"][TENURE_COLUMN]))
        return points, [[_factor(TENURE_COLUMN, round(float(u)), float(p - typical))]
                        for u, p in zip(tenure, points, strict=True)]

    def _engagement(self, frame: pl.DataFrame, explain: bool) -> tuple[np.ndarray, list[list[dict]]]:
        model = EngagementModel.from_dict(self.params["model"])
        points = 100.0 * model.predict_proba(frame)
        if not explain:
            return points, []
        return points, [[_factor(r["feature"], r["value"], r["impact"]) for r in row]
                        for row in model.reasons(frame, TOP_FACTORS)]


def _factor(name: str, value: Any, impact: float) -> dict[str, Any]:
    value = None if isinstance(value, float) and np.isnan(value) else value
    return {"feature": name, "value": value, "impact": round(impact, 1), "text": sentence(name, value, impact)}


def expected_orders(params: dict[str, Any], frame: pl.DataFrame, days: float = HORIZON_DAYS) -> np.ndarray:
    """Expected orders in the next `days` under the agency's BG/NBD fit (the account page's expected value)."""
    x, t_x, T = bg_nbd_inputs(frame)
    return BgNbd.from_dict(params["model"]).expected_purchases(days, x, t_x, T)

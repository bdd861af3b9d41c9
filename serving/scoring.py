"""Score and explain: calibrated probability x 100, the tier recorded with the model, and top factors.

A factor's impact is in score points: the score minus the score the entity would get if this feature
contributed nothing (its LightGBM `pred_contrib` removed from the margin). Signs therefore read as
"this pushed the score up/down by N points"; impacts need not add up exactly to the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from crm.model_bundle import TIER_ORDER, sigmoid
from serving.explain import sentence
from serving.models import LoadedModel

TOP_FACTORS = 5


@dataclass
class Score:
    entity_id: str
    probability: float
    score: int
    tier: str
    factors: list[dict[str, Any]] = field(default_factory=list)
    model_name: str = ""
    model_version: str = ""
    model_kind: str = "learned"  # or the agency's fallback: 'bg_nbd' | 'survival' | 'engagement' (crm.tenant_models)

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "probability": self.probability, "tier": self.tier, "factors": self.factors,
                "model": {"name": self.model_name, "version": self.model_version, "kind": self.model_kind}}


def _impacts(model: LoadedModel, contrib: np.ndarray) -> np.ndarray:
    """Score points per feature (rows x features)."""
    margin = contrib.sum(axis=1, keepdims=True)
    features = contrib[:, :-1]
    calibrated = 100 * (model.bundle.calibrate(margin) - model.bundle.calibrate(margin - features))
    # An isotonic plateau can flatten every effect of a row to 0; fall back to the uncalibrated curve there.
    raw = 100 * (sigmoid(margin) - sigmoid(margin - features))
    flat = np.all(np.abs(calibrated) < 1e-9, axis=1, keepdims=True)
    return np.where(flat, raw, calibrated)


def _value(raw: Any) -> Any:
    if isinstance(raw, float) and math.isnan(raw):
        return None
    if isinstance(raw, Decimal):
        return float(raw)
    if isinstance(raw, (np.floating, np.integer)):
        return raw.item()
    return raw


def score_frame(model: LoadedModel, frame: pl.DataFrame, explain: bool = True,
                top_k: int = TOP_FACTORS) -> list[Score]:
    """Score every row of a feature frame (any extra columns are ignored; missing features are NaN)."""
    if frame.is_empty():
        return []
    bundle = model.bundle
    x = bundle.encode(frame)
    ids = frame[bundle.entity_key].cast(pl.Utf8).to_list()
    if explain:
        contrib = model.contributions(x)
        prob = bundle.calibrate(contrib.sum(axis=1))
        impacts = _impacts(model, contrib)
    else:
        prob = bundle.calibrate(model.margin(x))
    present = [f for f in bundle.features if f in frame.columns]
    raw_rows = frame.select(present).to_dicts() if explain else []
    # Vectorised per-row numbers: a Python loop over numpy scalars costs more than the trees themselves.
    prob = np.round(np.clip(prob, 0.0, 1.0), 6)
    points = np.rint(prob * 100).astype(int).tolist()
    tiers = tiers_of(bundle.tiers, prob * 100)
    probs = prob.tolist()
    if not explain:
        return [Score(entity_id=e, probability=p, score=sc, tier=t, model_name=model.name,
                      model_version=model.version) for e, p, sc, t in zip(ids, probs, points, tiers, strict=True)]
    top = np.argsort(-np.abs(impacts), axis=1, kind="stable")[:, :top_k]
    out = []
    for i, entity_id in enumerate(ids):
        factors: list[dict[str, Any]] = []
        for j in top[i]:
            name = bundle.features[j]
            value = _value(raw_rows[i].get(name))
            impact = float(impacts[i, j])
            factors.append({"feature": name, "value": value, "impact": round(impact, 1),
                            "text": sentence(name, value, impact)})
        out.append(Score(entity_id=entity_id, probability=probs[i], score=points[i], tier=tiers[i],
                         factors=factors, model_name=model.name, model_version=model.version))
    return out


def tiers_of(thresholds: dict[str, float], scores: np.ndarray) -> list[str]:
    """Tier per score: A at or above the A threshold, then B, C; D below (same rule as ModelBundle.tier_of)."""
    tiers = np.full(len(scores), TIER_ORDER[-1], dtype=object)
    for tier in reversed(TIER_ORDER[:-1]):
        tiers[scores >= thresholds.get(tier, 101.0)] = tier
    return tiers.tolist()


def score_rows(model: LoadedModel, rows: list[dict[str, Any]], explain: bool = True) -> list[Score]:
    """Score feature dicts (API path): values are coerced with the model's own types."""
    bundle = model.bundle
    schema: dict[str, Any] = {bundle.entity_key: pl.Utf8}
    schema |= {f: (pl.Utf8 if f in bundle.categorical else pl.Float64) for f in bundle.features}
    data = {col: [_coerce(r.get(col), dtype) for r in rows] for col, dtype in schema.items()}
    return score_frame(model, pl.DataFrame(data, schema=schema), explain=explain)


def _coerce(value: Any, dtype: Any) -> Any:
    if value is None:
        return None
    if dtype == pl.Utf8:
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a number") from exc

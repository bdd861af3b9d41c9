"""What a trained scoring model needs besides its trees, stored in the MLflow model's metadata.

Training (models_ml) writes a ModelBundle; serving reads it back. Both sides encode feature rows
with the same `encode`, so a row is turned into numbers one way only (no train/serve skew):
categorical levels become their index in the recorded level list, unknown levels and nulls NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

TIER_ORDER = ("A", "B", "C", "D")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def calibrate(calibration: dict[str, Any], margin: np.ndarray) -> np.ndarray:
    """Probability from a raw margin: Platt (a*margin+b), isotonic (piecewise linear on sigmoid), or none."""
    kind = calibration.get("kind", "none")
    margin = np.asarray(margin, dtype=np.float64)
    if kind == "platt":
        return sigmoid(calibration["a"] * margin + calibration["b"])
    prob = sigmoid(margin)
    if kind == "isotonic":
        return np.interp(prob, calibration["x"], calibration["y"])
    return prob


@dataclass
class ModelBundle:
    name: str
    entity_type: str  # "lead" | "account"
    entity_key: str  # "contact_id" | "company_id"
    features: list[str]
    categorical: dict[str, list[str]] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    tiers: dict[str, float] = field(default_factory=dict)  # tier -> lowest score in it (A, B, C; D is the rest)
    horizon_days: int = 90

    # -- encoding ---------------------------------------------------------------------------------
    def encode(self, frame: pl.DataFrame) -> np.ndarray:
        """Feature matrix (float64, NaN = missing) in `self.features` order; missing columns are NaN."""
        cols = []
        for name in self.features:
            if name not in frame.columns:
                cols.append(pl.lit(None, dtype=pl.Float64).alias(name))
            elif name in self.categorical:
                levels = self.categorical[name]
                cols.append(pl.col(name).cast(pl.Utf8)
                            .replace_strict(levels, list(range(len(levels))), default=None,
                                            return_dtype=pl.Float64).alias(name))
            else:
                cols.append(pl.col(name).cast(pl.Float64).alias(name))
        return frame.select(cols).to_numpy().astype(np.float64, copy=False)

    def encode_rows(self, rows: list[dict[str, Any]]) -> np.ndarray:
        schema = {n: (pl.Utf8 if n in self.categorical else pl.Float64) for n in self.features}
        data = {n: [_coerce(r.get(n), n in self.categorical) for r in rows] for n in self.features}
        return self.encode(pl.DataFrame(data, schema=schema))

    # -- probabilities ------------------------------------------------------------------------------
    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probability from LightGBM's raw margin (log-odds)."""
        return calibrate(self.calibration, margin)

    def tier_of(self, score: float) -> str:
        for tier in TIER_ORDER[:-1]:
            if score >= self.tiers.get(tier, 101.0):
                return tier
        return TIER_ORDER[-1]

    # -- (de)serialisation into MLflow model metadata -----------------------------------------------
    def to_metadata(self) -> dict[str, Any]:
        return {"crm_bundle": asdict(self)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> ModelBundle:
        if not metadata or "crm_bundle" not in metadata:
            raise ValueError("this MLflow model has no 'crm_bundle' metadata: it was not logged by models_ml")
        return cls(**metadata["crm_bundle"])


def _coerce(value: Any, categorical: bool) -> Any:
    if value is None:
        return None
    if categorical:
        return str(value)
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"feature value {value!r} is not a number") from exc

"""Registry: the champion alias moves to a new version only if it beats the champion on the same test rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightgbm as lgb
import mlflow
import numpy as np
import polars as pl
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from crm.model_bundle import ModelBundle
from models_ml.config import TrainConfig
from models_ml.metrics import classification_metrics

log = logging.getLogger(__name__)
CHAMPION = "champion"


@dataclass
class GateDecision:
    promoted: bool
    challenger_version: str
    challenger_value: float
    champion_version: str | None
    champion_value: float | None
    metric: str
    reason: str


def load_version(name: str, version: str) -> tuple[lgb.Booster, ModelBundle]:
    uri = f"models:/{name}/{version}"
    booster = mlflow.lightgbm.load_model(uri)
    return booster, ModelBundle.from_metadata(mlflow.models.get_model_info(uri).metadata)


def current_champion(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def score_with(name: str, version: str, test: pl.DataFrame, label: str, metric: str) -> float:
    """The given version's metric on these rows, encoded with that version's own bundle."""
    booster, bundle = load_version(name, version)
    prob = bundle.calibrate(booster.predict(bundle.encode(test), raw_score=True))
    return classification_metrics(test[label].cast(pl.Int8).to_numpy(), prob)[metric]


def gate_and_promote(client: MlflowClient, cfg: TrainConfig, version: str, challenger_value: float,
                     test: pl.DataFrame) -> GateDecision:
    metric = cfg.promotion_metric
    champion = current_champion(client, cfg.model_name)
    champion_value: float | None = None
    if champion is None:
        promoted, reason = True, "no champion yet"
    else:
        try:
            champion_value = score_with(cfg.model_name, champion, test, cfg.label, metric)
        except Exception as exc:  # a champion that cannot read today's features cannot keep the title
            log.warning("champion v%s cannot score the test window: %s", champion, exc)
            promoted, reason = True, f"champion v{champion} cannot score the current features: {exc}"
        else:
            promoted = bool(np.isfinite(challenger_value) and challenger_value > champion_value)
            reason = (f"challenger {metric} {challenger_value:.4f} {'>' if promoted else '<='} "
                      f"champion v{champion} {champion_value:.4f} on the same test window")
    if promoted:
        client.set_registered_model_alias(cfg.model_name, CHAMPION, version)
    decision = GateDecision(promoted, version, challenger_value, champion, champion_value, metric, reason)
    for key, value in {"gate.promoted": str(promoted).lower(), "gate.reason": reason, "gate.metric": metric,
                       "gate.challenger_value": f"{challenger_value:.6f}",
                       "gate.champion_version": champion or "",
                       "gate.champion_value": "" if champion_value is None else f"{champion_value:.6f}"}.items():
        client.set_model_version_tag(cfg.model_name, version, key, value)
    return decision

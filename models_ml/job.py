"""The training job: read -> split by time -> fit -> evaluate -> log to MLflow -> register -> gate.

A model that cannot be trained on the data there is (no rows, one outcome only, too little history for a
purged split) is not an error: the job records an MLflow run tagged `training.status=skipped` with the
reason, registers nothing and leaves the champion as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import polars as pl

from models_ml.config import TrainConfig
from models_ml.evaluate import by_tenant_size, compare_with_truth
from models_ml.features import read_features
from models_ml.model_card import model_card
from models_ml.registry import GateDecision, current_champion, gate_and_promote
from models_ml.split import NotEnoughHistory
from models_ml.tracking import ensure_experiment, log_fit, use_project_store
from models_ml.train import FitResult, fit


@dataclass
class TrainingSkipped:
    """No model this run, and why (the MLflow run `run_id` records the same)."""

    run_id: str
    reason: str
    rows: int
    positives: int
    champion_version: str | None
    status: str = "skipped"

    def summary(self) -> dict:
        return {"status": self.status, "reason": self.reason, "labelled_rows": self.rows,
                "positives": self.positives, "champion_version": self.champion_version or "none",
                "run_id": self.run_id}


@dataclass
class TrainOutcome:
    run_id: str
    version: str
    decision: GateDecision
    fit: FitResult
    truth: dict | None
    by_size: list[dict]
    status: str = "trained"

    def summary(self) -> dict:
        m = self.fit.test_metrics
        out = {"status": self.status, "split": self.fit.split.name, "version": self.version,
               "promoted": self.decision.promoted, "reason": self.decision.reason,
               "test_roc_auc": m["roc_auc"], "test_pr_auc": m["pr_auc"], "test_brier": m["brier"],
               "test_ece": m["ece"], "baseline_roc_auc": self.fit.baseline_metrics["roc_auc"],
               "calibration": self.fit.calibration_report["calibration"], "run_id": self.run_id}
        if self.truth:
            out |= {"truth_auc": self.truth["truth_auc"], "auc_ratio_to_truth": self.truth["auc_ratio_to_truth"]}
        return out


def record_skipped(cfg: TrainConfig, frame: pl.DataFrame, reason: str) -> TrainingSkipped:
    """An MLflow run in the model's experiment saying why there is no new version (nothing registered)."""
    positives = int(frame[cfg.label].cast(pl.Int64).sum() or 0) if cfg.label in frame.columns else 0
    client = use_project_store()
    experiment_id = ensure_experiment(client, cfg.experiment_name)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{cfg.model_name}-skipped") as run:
        mlflow.set_tags({"training.status": "skipped", "training.reason": reason[:5000],
                         "entity_type": cfg.entity_type, "lineage.table": cfg.table})
        mlflow.log_params({"table": cfg.table, "label": cfg.label, "horizon_days": cfg.horizon_days,
                           "purge_days": cfg.purge, "test_periods": cfg.test_periods,
                           "val_periods": cfg.val_periods, "min_per_class": cfg.min_per_class})
        mlflow.log_metrics({"source_rows": float(frame.height), "source_positives": float(positives)})
    return TrainingSkipped(run.info.run_id, reason, frame.height, positives,
                           current_champion(client, cfg.model_name))


def train_and_register(cfg: TrainConfig, frame: pl.DataFrame | None = None) -> TrainOutcome | TrainingSkipped:
    frame = read_features(cfg, labelled_only=True) if frame is None else frame
    try:
        result = fit(frame, cfg)
    except NotEnoughHistory as exc:
        return record_skipped(cfg, frame, exc.reason)
    by_size = by_tenant_size(result.split.test, result.test_prob, cfg)
    truth = compare_with_truth(result.split.test, result.test_prob, cfg, result.baseline_prob)
    extra = dict(truth or {})  # truth_auc, auc_ratio_to_truth, baseline_auc_ratio_to_truth, coverage...
    card = model_card(cfg, result, by_size, truth)

    client = use_project_store()
    experiment_id = ensure_experiment(client, cfg.experiment_name)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{cfg.model_name}-train") as run:
        info = log_fit(cfg, result, extra, card, source_rows=frame.height)
        version = str(info.registered_model_version)
        decision = gate_and_promote(client, cfg, version, result.test_metrics[cfg.promotion_metric],
                                    result.split.test)
        mlflow.log_metrics({"gate_promoted": float(decision.promoted),
                            "gate_challenger_value": decision.challenger_value,
                            **({"gate_champion_value": decision.champion_value}
                               if decision.champion_value is not None else {})})
        mlflow.set_tags({"gate.reason": decision.reason, "registered_version": version,
                         "training.status": "trained"})
        for tier, threshold in result.bundle.tiers.items():
            client.set_model_version_tag(cfg.model_name, version, f"tier_{tier}_min_score", str(threshold))
    return TrainOutcome(run.info.run_id, version, decision, result, truth, by_size)

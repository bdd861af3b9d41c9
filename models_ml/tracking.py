"""MLflow: the project's store, experiments with artifacts under $CRM_HOME, and the run's contents."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from crm.settings import get_settings
from crm.warehouse import describe
from models_ml.config import TrainConfig
from models_ml.train import FitResult

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def use_project_store() -> MlflowClient:
    """Point MLflow at the project's tracking store (sqlite under $CRM_HOME unless MLFLOW_TRACKING_URI)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The experiment's id; new experiments keep artifacts under $CRM_HOME/mlartifacts, never ./mlruns."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = get_settings().mlflow_artifacts_dir / name
    location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=location.as_uri())


def dbt_lineage() -> dict[str, str]:
    """The dbt invocation that built the marts: the newest run_results.json of the pipeline's dbt runs
    ($CRM_HOME/dbt_runs/<run>/), else the project's dbt/target (a dbt run by hand)."""
    candidates = [*(get_settings().home / "dbt_runs").glob("*/run_results.json"),
                  PROJECT_ROOT / "dbt" / "target" / "run_results.json"]
    existing = [p for p in candidates if p.exists()]
    if not existing:
        return {}
    path = max(existing, key=lambda p: p.stat().st_mtime)
    meta = json.loads(path.read_text()).get("metadata", {})
    return {"dbt_invocation_id": str(meta.get("invocation_id", "")),
            "dbt_generated_at": str(meta.get("generated_at", ""))}


def log_fit(cfg: TrainConfig, result: FitResult, extra_metrics: dict[str, float], card: str,
            source_rows: int) -> mlflow.models.model.ModelInfo:
    """Log params, metrics, features + importance, lineage and the model card; log + register the model."""
    lineage = {**result.split.lineage(cfg.label), "source_rows": source_rows, "table": cfg.table,
               "warehouse": describe(path=cfg.warehouse_path), **dbt_lineage()}
    mlflow.log_params({"table": cfg.table, "label": cfg.label, "horizon_days": cfg.horizon_days,
                       "purge_days": cfg.purge, "split": lineage["split"], "class_weight": cfg.class_weight,
                       "calibration": result.calibration_report["calibration"],
                       "n_features": len(result.bundle.features),
                       "best_iteration": result.best_iteration, "train_as_of_min": lineage["train_as_of_min"],
                       "train_as_of_max": lineage["train_as_of_max"], "test_as_of_min": lineage["test_as_of_min"],
                       "test_as_of_max": lineage["test_as_of_max"],
                       **{f"lgbm_{k}": v for k, v in result.params.items()}})
    metrics = {f"test_{k}": v for k, v in result.test_metrics.items()}
    metrics |= {f"val_{k}": v for k, v in result.val_metrics.items()}
    metrics |= {f"baseline_test_{k}": v for k, v in result.baseline_metrics.items()}
    metrics |= {k: float(v) for k, v in result.calibration_report.items() if isinstance(v, float)}
    metrics |= {f"{k}": float(v) for k, v in lineage.items()
                if k.endswith(("_rows", "_positives", "_tenants", "_periods"))}
    metrics |= {"train_seconds": result.train_seconds, **extra_metrics}
    mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN (one-class split) is not logged
    mlflow.set_tags({"entity_type": cfg.entity_type, **{f"lineage.{k}": str(v) for k, v in lineage.items()}})
    mlflow.log_dict({"features": result.bundle.features, "categorical": result.bundle.categorical,
                     "importance_gain": result.importance}, "features.json")
    mlflow.log_dict(lineage, "lineage.json")
    mlflow.log_text(card, "model_card.md")

    example = pd.DataFrame(result.bundle.encode(result.split.test.head(5)), columns=result.bundle.features)
    signature = infer_signature(example, result.booster.predict(example.to_numpy()))
    return mlflow.lightgbm.log_model(result.booster, name="model", signature=signature, input_example=example,
                                     registered_model_name=cfg.model_name, metadata=result.bundle.to_metadata(),
                                     # explicit requirements: inferring them imports and probes for seconds
                                     pip_requirements=[f"lightgbm=={lgb.__version__}", f"mlflow=={mlflow.__version__}"])

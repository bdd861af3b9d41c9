"""Typed training configs. One config per registered model; tests override paths and names."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class LightGBMParams(BaseModel):
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 100
    num_threads: int = 2


class TrainConfig(BaseModel):
    model_name: str = Field(description="Registered model name in MLflow, e.g. lead_score")
    experiment: str | None = Field(default=None, description="MLflow experiment; defaults to model_name")
    entity_type: Literal["lead", "account"]
    table: str = Field(description="Mart to read features from (its name; the schema follows the warehouse target)")
    entity_key: str
    label: str
    horizon_days: int = 90
    warehouse_path: Path | None = Field(default=None, description="Another DuckDB file to read (tests); default: "
                                        "the warehouse CRM_WAREHOUSE names (crm.warehouse)")
    exclude: list[str] = Field(default_factory=list, description="Columns never used as features")
    max_categories: int = Field(default=50, description="String columns with more levels are dropped")
    # Time split: the newest labelled month-ends are test, the ones before validation, the rest train.
    # With less history the split tries fewer of each, down to 1 + 1 (models_ml.split.split_ladder).
    test_periods: int = Field(default=2, ge=1)
    val_periods: int = Field(default=2, ge=1)
    min_per_class: int = Field(default=5, ge=1, description="Each of train, validation and test needs at least "
                               "this many positive and this many negative rows, or the split is smaller / skipped")
    # Rows whose label horizon reaches into the next split's first as_of_date are dropped ("purged"):
    # their label was observed after the later split began, which would leak its outcomes.
    purge_days: int | None = Field(default=None, description="Default: horizon_days")
    # Class imbalance: "none" keeps the natural base rate (probabilities stay honest, calibration small);
    # "sqrt" up-weights positives by sqrt(neg/pos) and relies on the calibration step to undo the skew.
    class_weight: Literal["none", "sqrt", "balanced"] = "none"
    calibration: Literal["auto", "isotonic", "platt", "none"] = "auto"
    ece_tolerance: float = Field(default=0.02, description="Correct calibration when validation ECE is above")
    tier_shares: tuple[float, float, float] = Field(default=(0.10, 0.20, 0.30),
                                                    description="Shares of validation rows in tiers A, B, C")
    lgbm: LightGBMParams = Field(default_factory=LightGBMParams)
    seed: int = 7
    promotion_metric: Literal["roc_auc", "pr_auc"] = "roc_auc"
    # Demo data only: the generator's true probabilities, the upper bound any model could reach.
    truth_file: str = ""
    truth_dir: Path | None = Field(default=None, description="Default: settings.ground_truth_dir")
    truth_prob: str = ""

    @property
    def keys(self) -> list[str]:
        return ["tenant_id", self.entity_key, "as_of_date"]

    @property
    def purge(self) -> int:
        return self.horizon_days if self.purge_days is None else self.purge_days

    @property
    def experiment_name(self) -> str:
        return self.experiment or self.model_name


def lead_config(**overrides) -> TrainConfig:
    base = dict(model_name="lead_score", entity_type="lead", table="lead_features", entity_key="contact_id",
                label="converted_90d", truth_file="leads.parquet", truth_prob="p_convert_90d")
    return TrainConfig(**{**base, **overrides})


def churn_config(**overrides) -> TrainConfig:
    base = dict(model_name="churn_risk", entity_type="account", table="account_features",
                entity_key="company_id", label="churned_90d", truth_file="accounts.parquet", truth_prob="p_churn_90d")
    return TrainConfig(**{**base, **overrides})

"""Fit LightGBM (early stopping on validation), calibrate, set tiers, fit the baseline, evaluate on test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import polars as pl

from crm.model_bundle import ModelBundle
from models_ml.baseline import fit_baseline, predict_baseline
from models_ml.calibration import choose_calibration
from models_ml.config import TrainConfig
from models_ml.features import bundle_for, with_fitted_features
from models_ml.metrics import classification_metrics, expected_calibration_error
from models_ml.split import TimeSplit, time_split


@dataclass
class FitResult:
    booster: lgb.Booster
    bundle: ModelBundle
    split: TimeSplit
    test_prob: np.ndarray
    baseline_prob: np.ndarray
    test_metrics: dict[str, float]
    val_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    calibration_report: dict
    importance: dict[str, float]
    best_iteration: int
    train_seconds: float
    params: dict = field(default_factory=dict)


def labels(rows: pl.DataFrame, cfg: TrainConfig) -> np.ndarray:
    return rows[cfg.label].cast(pl.Int8).to_numpy()


def class_weights(y: np.ndarray, mode: str) -> np.ndarray | None:
    """Per-row weights for the deliberate imbalance choice in the config (None = natural base rate)."""
    if mode == "none":
        return None
    pos, neg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    w_pos = neg / pos if mode == "balanced" else float(np.sqrt(neg / pos))
    return np.where(y == 1, w_pos, 1.0)


def lgbm_params(cfg: TrainConfig) -> dict:
    p = cfg.lgbm
    return {
        "objective": "binary", "metric": "binary_logloss", "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves, "min_child_samples": p.min_child_samples,
        "feature_fraction": p.feature_fraction, "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq, "lambda_l2": p.lambda_l2, "num_threads": p.num_threads,
        "seed": cfg.seed, "deterministic": True, "force_col_wise": True, "verbose": -1,
        "cat_smooth": 10.0, "min_data_per_group": 50,
    }


def tier_thresholds(val_scores: np.ndarray, shares: tuple[float, float, float]) -> dict[str, float]:
    """Lowest score of tiers A, B, C so that they hold the given shares of validation rows."""
    cuts = np.cumsum(shares)
    return {tier: round(float(np.quantile(val_scores, 1.0 - cut)), 2) for tier, cut in zip("ABC", cuts, strict=True)}


def fit(frame: pl.DataFrame, cfg: TrainConfig) -> FitResult:
    time_split(frame, cfg)  # first: NotEnoughHistory before any work (the per-agency fits cost seconds)
    frame = with_fitted_features(frame, cfg.entity_type)
    split = time_split(frame, cfg)
    bundle = bundle_for(frame, cfg)
    x_train, x_val, x_test = (bundle.encode(s) for s in (split.train, split.val, split.test))
    y_train, y_val, y_test = (labels(s, cfg) for s in (split.train, split.val, split.test))
    cats = [i for i, f in enumerate(bundle.features) if f in bundle.categorical]
    params = lgbm_params(cfg)

    started = time.perf_counter()
    train_set = lgb.Dataset(x_train, y_train, weight=class_weights(y_train, cfg.class_weight),
                            feature_name=bundle.features, categorical_feature=cats, free_raw_data=False)
    val_set = lgb.Dataset(x_val, y_val, reference=train_set)
    booster = lgb.train(params, train_set, num_boost_round=cfg.lgbm.max_rounds, valid_sets=[val_set],
                        callbacks=[lgb.early_stopping(cfg.lgbm.early_stopping_rounds, verbose=False)])
    train_seconds = time.perf_counter() - started

    val_margin = booster.predict(x_val, raw_score=True)
    bundle.calibration, calibration_report = choose_calibration(val_margin, y_val, cfg.calibration,
                                                                cfg.ece_tolerance)
    bundle.tiers = tier_thresholds(bundle.calibrate(val_margin) * 100, cfg.tier_shares)

    test_margin = booster.predict(x_test, raw_score=True)
    test_prob = bundle.calibrate(test_margin)
    test_metrics = classification_metrics(y_test, test_prob)
    test_metrics["ece_uncalibrated"] = expected_calibration_error(y_test, 1 / (1 + np.exp(-test_margin)))

    baseline = fit_baseline(split.train, y_train, bundle, cfg.seed)
    baseline_prob = predict_baseline(baseline, split.test, bundle)
    baseline_metrics = classification_metrics(y_test, baseline_prob)

    gain = booster.feature_importance(importance_type="gain")
    importance = dict(sorted(zip(bundle.features, (float(g) for g in gain), strict=True),
                             key=lambda kv: -kv[1]))
    return FitResult(booster=booster, bundle=bundle, split=split, test_prob=test_prob, baseline_prob=baseline_prob,
                     test_metrics=test_metrics,
                     val_metrics=classification_metrics(y_val, bundle.calibrate(val_margin)),
                     baseline_metrics=baseline_metrics, calibration_report=calibration_report,
                     importance=importance, best_iteration=int(booster.best_iteration or booster.current_iteration()),
                     train_seconds=train_seconds, params=params)

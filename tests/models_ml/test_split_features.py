"""Time split and feature handling on synthetic marts (no MLflow)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models_ml.calibration import choose_calibration
from models_ml.config import lead_config
from models_ml.features import bundle_for, feature_columns, read_features
from models_ml.metrics import classification_metrics, expected_calibration_error, top_decile
from models_ml.split import time_split
from tests.ml_support import lead_frame, write_mart


def test_time_split_never_leaks():
    cfg = lead_config()
    frame = lead_frame(sizes=(50, 30))
    split = time_split(frame, cfg)
    horizon = dt.timedelta(days=cfg.horizon_days)
    # Every training label was fully observed before validation began, and validation's before test.
    assert split.train["as_of_date"].max() + horizon <= split.val["as_of_date"].min()
    assert split.val["as_of_date"].max() + horizon <= split.test["as_of_date"].min()
    # Test is the newest labelled snapshots; unlabelled (future-horizon) rows are nowhere.
    labelled = frame.filter(pl.col("converted_90d").is_not_null())
    assert split.test["as_of_date"].max() == labelled["as_of_date"].max()
    for part in (split.train, split.val, split.test):
        assert part["converted_90d"].null_count() == 0
    keys = ["tenant_id", "contact_id", "as_of_date"]
    assert split.train.join(split.test, on=keys).is_empty()
    assert split.val.join(split.test, on=keys).is_empty()


def test_time_split_refuses_too_little_history():
    frame = lead_frame(sizes=(20,)).filter(pl.col("as_of_date") >= dt.date(2026, 5, 1))
    with pytest.raises(ValueError, match="not enough history"):
        time_split(frame, lead_config())


def test_feature_columns_are_generic():
    frame = lead_frame(sizes=(20,)).with_columns(
        pl.lit("x").alias("owner_id"), pl.lit(dt.datetime(2026, 1, 1)).alias("created_at"))
    features, categorical = feature_columns(frame.drop("p_convert_90d"), lead_config())
    assert "lead_source" in categorical and categorical["lead_source"] == sorted(set(frame["lead_source"]))
    assert {"owner_id", "created_at", "tenant_id", "contact_id", "as_of_date", "converted_90d"}.isdisjoint(features)
    assert {"emails_replied_30d", "is_decision_maker", "noise"} <= set(features)


def test_bundle_encodes_unknown_levels_and_nulls_as_missing():
    frame = lead_frame(sizes=(20,)).drop("p_convert_90d")
    bundle = bundle_for(frame, lead_config())
    rows = [{"lead_source": "never-seen", "emails_replied_30d": 2}, {"lead_source": "referral"}]
    x = bundle.encode_rows(rows)
    col = bundle.features.index("lead_source")
    assert np.isnan(x[0, col]) and x[1, col] == bundle.categorical["lead_source"].index("referral")
    assert x[0, bundle.features.index("emails_replied_30d")] == 2
    assert np.isnan(x[1, bundle.features.index("emails_replied_30d")])


def test_read_features_from_duckdb(tmp_path):
    frame = lead_frame(sizes=(10,))
    path = write_mart(tmp_path / "w.duckdb", "lead_features", frame)
    read = read_features(lead_config(warehouse_path=path), labelled_only=True)
    assert read.height == frame.filter(pl.col("converted_90d").is_not_null()).height
    assert "p_convert_90d" not in read.columns


def test_metrics_on_known_cases():
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02  # calibrated by construction
    assert expected_calibration_error(y, p ** 3) > 0.1  # systematically too low
    precision, lift = top_decile(y, p)
    assert precision > 0.9 and lift > 1.8
    m = classification_metrics(y, p)
    assert 0.8 < m["roc_auc"] < 0.9 and m["brier"] < 0.2


def test_miscalibrated_scores_are_corrected():
    rng = np.random.default_rng(1)
    margin = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(0.4 * margin - 1.0)))).astype(int)  # true slope 0.4, not 1
    calibration, report = choose_calibration(margin, y, "auto", tolerance=0.02)
    assert report["ece_raw_val"] > 0.05
    assert calibration["kind"] in ("isotonic", "platt") and report["ece_corrected_val"] < report["ece_raw_val"]
    well, report = choose_calibration(0.4 * margin - 1.0, y, "auto", tolerance=0.05)
    assert well == {"kind": "none"} and report["calibration"] == "none"

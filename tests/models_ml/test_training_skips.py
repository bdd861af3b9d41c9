"""Training never fails for lack of data: too little history trains on a smaller split and says so; no rows
or one outcome records a skipped MLflow run with its reason, registers nothing and keeps the champion."""

from __future__ import annotations

import uuid

import mlflow
import polars as pl
from mlflow import MlflowClient

from crm.settings import get_settings
from models_ml.config import lead_config
from models_ml.job import TrainingSkipped, TrainOutcome, train_and_register
from models_ml.registry import current_champion
from tests import ml_support


def _client() -> MlflowClient:
    return MlflowClient(tracking_uri=get_settings().mlflow_uri, registry_uri=get_settings().mlflow_uri)


def _short_history(frame: pl.DataFrame, months: int) -> pl.DataFrame:
    dates = sorted(frame.filter(pl.col("converted_90d").is_not_null())["as_of_date"].unique().to_list())
    return frame.filter(pl.col("as_of_date") >= dates[-months])


def test_short_history_trains_with_the_reduced_split_and_says_so():
    ml_support.install_mlflow_store(ml_support.CACHE)
    name = f"lead_short_{uuid.uuid4().hex[:6]}"
    frame = _short_history(ml_support.lead_frame(sizes=(300, 150)), 8).drop("p_convert_90d")
    outcome = train_and_register(lead_config(model_name=name, lgbm=ml_support.FAST), frame)
    assert isinstance(outcome, TrainOutcome) and outcome.status == "trained"
    assert outcome.fit.split.name == "1+1 purged" and outcome.summary()["split"] == "1+1 purged"
    run = _client().get_run(outcome.run_id)
    assert run.data.params["split"] == "1+1 purged"
    assert run.data.tags["lineage.split"] == "1+1 purged" and run.data.tags["training.status"] == "trained"
    assert run.data.metrics["test_periods"] == 1.0 and run.data.metrics["val_periods"] == 1.0
    card = mlflow.artifacts.load_text(f"runs:/{outcome.run_id}/model_card.md")
    assert "**1+1 purged**" in card and "the configured 2+2 did not fit" in card
    assert current_champion(_client(), name) == outcome.version


def test_untrainable_data_records_a_skipped_run_and_keeps_the_champion():
    ml_support.install_mlflow_store(ml_support.CACHE)
    name = f"lead_skip_{uuid.uuid4().hex[:6]}"
    cfg = lead_config(model_name=name, lgbm=ml_support.FAST)
    frame = ml_support.lead_frame(sizes=(300, 150)).drop("p_convert_90d")
    champion = train_and_register(cfg, frame)
    assert isinstance(champion, TrainOutcome) and champion.decision.promoted

    cases = {"no labelled rows": frame.head(0),
             "both outcomes": frame.with_columns(pl.lit(0, dtype=pl.Int8).alias("converted_90d")),
             "not enough history": _short_history(frame, 6)}
    client = _client()
    for words, data in cases.items():
        skipped = train_and_register(cfg, data)
        assert isinstance(skipped, TrainingSkipped) and skipped.status == "skipped"
        assert words in f"not enough history: {skipped.reason}", skipped.reason
        run = client.get_run(skipped.run_id)
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == client.get_experiment_by_name(name).experiment_id
        assert run.data.tags["training.status"] == "skipped"
        assert run.data.tags["training.reason"] == skipped.reason
        assert run.data.metrics["source_rows"] == data.height
        assert skipped.champion_version == champion.version
        assert skipped.summary()["status"] == "skipped"
    assert "purge" in skipped.reason  # the short history names the split it could not make
    versions = client.search_model_versions(f"name = '{name}'")
    assert [str(v.version) for v in versions] == [champion.version]  # nothing registered by a skipped run
    assert current_champion(client, name) == champion.version


def test_a_model_never_trained_is_skipped_without_a_registered_model():
    ml_support.install_mlflow_store(ml_support.CACHE)
    name = f"lead_none_{uuid.uuid4().hex[:6]}"
    frame = ml_support.lead_frame(sizes=(20,)).drop("p_convert_90d").head(0)
    skipped = train_and_register(lead_config(model_name=name), frame)
    assert isinstance(skipped, TrainingSkipped) and skipped.champion_version is None
    assert _client().search_registered_models(filter_string=f"name = '{name}'") == []

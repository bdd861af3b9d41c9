"""Training end to end on synthetic marts: MLflow run contents, the promotion gate, loading from the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import mlflow
import numpy as np
from mlflow import MlflowClient

from crm.settings import get_settings
from models_ml.config import lead_config
from models_ml.job import train_and_register
from models_ml.registry import current_champion
from tests import ml_support


def _models():
    return ml_support.trained_models(str(get_settings().home))


def test_run_logs_metrics_lineage_card_and_signature():
    lead = _models()["lead"]
    client = MlflowClient(tracking_uri=get_settings().mlflow_uri, registry_uri=get_settings().mlflow_uri)
    run = client.get_run(lead.run_id)
    for key in ("test_roc_auc", "test_pr_auc", "test_brier", "test_ece", "test_lift_top_decile",
                "test_precision_top_decile", "baseline_test_roc_auc", "train_rows", "test_rows",
                "truth_auc", "auc_ratio_to_truth"):
        assert key in run.data.metrics, key
    assert run.data.params["train_as_of_max"] < run.data.params["test_as_of_min"]
    artifacts = {a.path for a in client.list_artifacts(lead.run_id)}
    assert {"model_card.md", "features.json", "lineage.json"} <= artifacts
    card = mlflow.artifacts.load_text(f"runs:/{lead.run_id}/model_card.md")
    assert "By tenant size" in card and "ground truth" in card
    features = mlflow.artifacts.load_dict(f"runs:/{lead.run_id}/features.json")
    # The planted signal is found: replies matter more than pure noise.
    imp = features["importance_gain"]
    assert imp["emails_replied_30d"] > imp["noise"]
    info = mlflow.models.get_model_info(f"models:/lead_score/{lead.version}")
    assert info.signature is not None and info.metadata["crm_bundle"]["tiers"]
    assert artifacts and str(get_settings().mlflow_artifacts_dir) in client.get_run(lead.run_id).info.artifact_uri
    # Against the truth the model is close to the best possible on this easy synthetic signal.
    assert lead.truth and lead.truth["auc_ratio_to_truth"] > 0.9
    assert lead.fit.test_metrics["roc_auc"] > 0.75


def test_promotion_gate_both_ways(tmp_path):
    ml_support.install_mlflow_store(ml_support.CACHE)
    name = f"lead_gate_{uuid.uuid4().hex[:6]}"
    path = ml_support.write_mart(tmp_path / "w.duckdb", "lead_features", ml_support.lead_frame(sizes=(400, 200)))
    weak = lead_config(model_name=name, warehouse_path=path, lgbm=ml_support.FAST,
                       exclude=["emails_replied_30d", "web_visits_30d", "days_since_last_activity", "lead_source"])
    strong = lead_config(model_name=name, warehouse_path=path, lgbm=ml_support.FAST)
    first = train_and_register(weak)
    assert first.decision.promoted and first.decision.reason == "no champion yet"
    better = train_and_register(strong)
    assert better.decision.promoted, better.decision.reason
    assert better.decision.champion_value < better.decision.challenger_value
    worse = train_and_register(weak)
    assert not worse.decision.promoted, worse.decision.reason
    assert worse.decision.champion_version == better.version
    client = MlflowClient(tracking_uri=get_settings().mlflow_uri, registry_uri=get_settings().mlflow_uri)
    assert current_champion(client, name) == better.version
    tags = client.get_model_version(name, worse.version).tags
    assert tags["gate.promoted"] == "false"
    assert float(tags["gate.champion_value"]) > float(tags["gate.challenger_value"])
    run = client.get_run(worse.run_id)
    assert run.data.metrics["gate_promoted"] == 0.0 and "gate_champion_value" in run.data.metrics


def test_champion_loads_from_registry_in_a_fresh_process():
    models = _models()
    leads = models["leads"].filter(models["leads"]["converted_90d"].is_null()).head(5)
    from serving.models import champions

    model = champions().get("lead_score")
    expected = model.bundle.calibrate(model.margin(model.bundle.encode(leads))).tolist()
    rows = leads.drop("as_of_date").to_dicts()
    code = (
        "import json, sys\n"
        "from serving.models import champions\n"
        "from serving.scoring import score_rows\n"
        "m = champions().get('lead_score')\n"
        "print(json.dumps({'version': m.version, 'p': [s.probability for s in score_rows(m, json.load(sys.stdin))]}))\n"
    )
    env = {**os.environ, "CRM_HOME": str(get_settings().home)}
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(rows), env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["version"] == model.version
    np.testing.assert_allclose(got["p"], expected, atol=1e-6)

"""Score + explain with a registered champion; the per-process model cache follows the alias."""

from __future__ import annotations

import uuid

from mlflow import MlflowClient

from crm.settings import get_settings
from serving.models import ChampionModels, champions
from serving.scoring import score_rows
from tests import ml_support


def _lead_model():
    ml_support.trained_models(str(get_settings().home))
    return champions().get("lead_score")


def test_scores_have_probability_tier_and_factor_sentences():
    model = _lead_model()
    row = {"contact_id": str(uuid.uuid4()), "emails_replied_30d": 4, "web_visits_30d": 9,
           "days_since_last_activity": 2, "lead_source": "referral", "is_decision_maker": True, "noise": 0.1}
    (scored,) = score_rows(model, [row])
    assert 0 <= scored.probability <= 1 and scored.score == round(scored.probability * 100)
    assert scored.tier == model.bundle.tier_of(scored.probability * 100)
    assert len(scored.factors) == 5
    top = {f["feature"]: f for f in scored.factors}
    assert top["emails_replied_30d"]["impact"] > 0
    assert top["emails_replied_30d"]["text"].startswith("Replied to 4 emails in the last 30 days: +")
    assert scored.model_name == "lead_score" and scored.model_version == model.version


def test_more_replies_raise_the_score_and_unknown_levels_do_not_fail():
    model = _lead_model()
    base = {"contact_id": str(uuid.uuid4()), "emails_replied_30d": 0, "web_visits_30d": 2,
            "days_since_last_activity": 30, "lead_source": "a-source-never-seen", "is_decision_maker": False}
    low, high = score_rows(model, [base, {**base, "emails_replied_30d": 6}])
    assert high.probability > low.probability


def test_cache_follows_the_champion_alias():
    ml_support.trained_models(str(get_settings().home))
    uri = get_settings().mlflow_uri  # both stores named: never a registry URI another test set process-wide
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"lead_alias_{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    src = client.get_model_version_by_alias("lead_score", "champion")
    v1 = client.copy_model_version(f"models:/lead_score/{src.version}", name).version
    v2 = client.copy_model_version(f"models:/lead_score/{src.version}", name).version
    assert ChampionModels().get(name) is None  # no champion yet: nothing to serve, no error
    client.set_registered_model_alias(name, "champion", v1)
    lazy, eager = ChampionModels(refresh_seconds=3600), ChampionModels(refresh_seconds=0)
    assert lazy.get(name).version == eager.get(name).version == str(v1)
    assert lazy.get(name) is lazy.get(name) and lazy.loads == 1  # loaded once, then served from memory
    client.set_registered_model_alias(name, "champion", v2)
    assert eager.get(name).version == str(v2) and eager.loads == 2
    assert lazy.get(name).version == str(v1)  # within its refresh window the old champion keeps serving

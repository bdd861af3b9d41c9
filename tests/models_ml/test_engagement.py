"""The leads' engagement fallback on frames shaped like marts.lead_features: learned from an agency's own
labels when it has enough, a documented prior otherwise; monotone in engagement; explainable; plain JSON."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from crm.engagement_model import COLUMNS, PRIOR_WEIGHTS, EngagementModel
from models_ml.engagement import fit_engagement


def true_logit(frame: pl.DataFrame, base: float = -3.2) -> np.ndarray:
    def log1p(name: str) -> np.ndarray:
        return np.log1p(frame[name].to_numpy())

    return (base + 0.9 * log1p("emails_replied_30d") + 1.2 * log1p("meetings_90d") + 0.6 * log1p("pricing_visits_90d")
            + 0.3 * log1p("web_visits_30d"))


def lead_frame(n: int, seed: int, base: float = -3.2) -> pl.DataFrame:
    """Rows with the mart's key, engagement and label columns; conversion driven by replies, meetings, pricing."""
    rng = np.random.default_rng(seed)
    interest = rng.gamma(1.5, 1.0, n)
    counts = {f"{k}_{d}d": rng.poisson(interest * rate * d / 30) for k, rate in
              (("emails_replied", 0.15), ("emails_opened", 0.8), ("emails_clicked", 0.2), ("web_visits", 1.0),
               ("meetings", 0.05), ("calls", 0.05), ("form_submits", 0.05)) for d in (7, 30, 90)}
    pricing = rng.poisson(interest * 0.2, n)
    last_activity = np.where(interest > 0.3, rng.exponential(20 / interest), np.nan)
    last_reply = np.where(counts["emails_replied_90d"] > 0, rng.uniform(0, 90, n), np.nan)
    frame = pl.DataFrame({
        "tenant_id": [str(uuid.uuid4())] * n, "contact_id": [str(uuid.uuid4()) for _ in range(n)],
        "as_of_date": [dt.date(2025, 6, 30)] * n, "lead_source": rng.choice(["referral", "organic"], n),
        **counts, "pricing_visits_30d": pricing // 2, "pricing_visits_90d": pricing,
        "high_intent_visits_90d": pricing + rng.poisson(0.3, n),
        "days_since_last_activity": last_activity, "days_since_last_reply": last_reply,
    })
    label = rng.random(n) < 1 / (1 + np.exp(-true_logit(frame, base)))
    return frame.with_columns(pl.Series("converted_90d", label.astype(np.int32)))


def test_learns_from_the_agencys_own_labels_and_ranks_held_out_leads():
    train, test = lead_frame(4000, seed=1), lead_frame(3000, seed=2)
    model = fit_engagement(train, "converted_90d")
    assert model.kind == "learned" and model.calibration["kind"] == "platt"
    assert all(w >= 0 for w in model.weights.values())
    prob = model.predict_proba(test)
    y = test["converted_90d"].to_numpy()
    assert roc_auc_score(y, prob) > roc_auc_score(y, true_logit(test)) - 0.01   # as good as the truth allows
    assert prob.mean() == pytest.approx(y.mean(), abs=0.02)   # calibrated in the large on unseen rows
    assert model.weights["meetings_90d"] > model.weights["emails_opened_90d"]


def test_without_labels_the_prior_matches_the_base_rate_given_and_ranks_engagement():
    frame = lead_frame(2000, seed=3)
    model = fit_engagement(frame.drop("converted_90d"), None, base_rate=0.08)
    assert model.kind == "prior"
    assert model.weights == PRIOR_WEIGHTS
    prob = model.predict_proba(frame)
    assert prob.mean() == pytest.approx(0.08, abs=1e-6)
    y = frame["converted_90d"].to_numpy()
    assert roc_auc_score(y, prob) > roc_auc_score(y, true_logit(frame)) - 0.05


def test_too_few_positives_falls_back_to_the_prior_at_the_agencys_own_rate():
    frame = lead_frame(300, seed=4, base=-6.0)
    positives = int(frame["converted_90d"].sum())
    assert positives < 20
    model = fit_engagement(frame, "converted_90d")
    assert model.kind == "prior" and model.positives == positives
    assert 0 < model.predict_proba(frame).mean() < 0.05


@pytest.mark.parametrize("labelled", [True, False])
def test_more_replies_never_lower_the_score(labelled):
    frame = lead_frame(3000, seed=5)
    model = fit_engagement(frame, "converted_90d" if labelled else None)
    row = frame.head(1)
    ladder = pl.concat([row.with_columns(pl.lit(n).alias("emails_replied_30d"), pl.lit(n).alias("emails_replied_90d"))
                        for n in range(8)])
    prob = model.predict_proba(ladder)
    assert np.all(np.diff(prob) >= 0) and prob[-1] > prob[0]


def test_reasons_name_mart_columns_with_signed_score_point_impacts():
    frame = lead_frame(3000, seed=6)
    model = fit_engagement(frame, "converted_90d")
    keen = frame.sort("emails_replied_30d", descending=True).head(1)
    cold = frame.filter((pl.col("emails_replied_90d") == 0) & (pl.col("meetings_90d") == 0)).head(1)
    reasons = model.reasons(pl.concat([keen, cold]), k=3)
    assert [len(r) for r in reasons] == [3, 3]
    for factors in reasons:
        assert set(factors[0]) == {"feature", "value", "impact"}
        assert all(f["feature"] in COLUMNS for f in factors)
        impacts = [abs(f["impact"]) for f in factors]
        assert impacts == sorted(impacts, reverse=True)
    top_keen = {f["feature"]: f for f in reasons[0]}
    assert "emails_replied_30d" in top_keen and top_keen["emails_replied_30d"]["impact"] > 0
    assert top_keen["emails_replied_30d"]["value"] == keen["emails_replied_30d"].item()
    assert all(f["impact"] <= 0 for f in reasons[1] if f["feature"].startswith(("emails_replied", "meetings")))


def test_json_round_trip_keeps_every_prediction_and_missing_columns_read_as_none():
    frame = lead_frame(1500, seed=7)
    for label in ("converted_90d", None):
        model = fit_engagement(frame, label)
        restored = EngagementModel.from_dict(json.loads(json.dumps(model.to_dict())))
        assert restored == model
        np.testing.assert_allclose(restored.predict_proba(frame), model.predict_proba(frame))
    sparse = pl.DataFrame({"contact_id": ["a", "b"], "emails_replied_30d": [None, 3]})
    prob = model.predict_proba(sparse)
    assert np.all(np.isfinite(prob)) and prob[1] > prob[0]
    replied = {f["feature"]: f for f in model.reasons(sparse, k=len(COLUMNS))[1]}
    assert replied["emails_replied_30d"]["value"] == 3 and replied["emails_replied_30d"]["impact"] > 0
    assert replied["meetings_90d"]["value"] is None

"""Scores API on a real app, PostgreSQL and MLflow registry: factors, as_of, fresh, batch, what-if, isolation."""

from __future__ import annotations

import datetime as dt
import uuid

import polars as pl

from crm.settings import get_settings
from serving.batch import score_entities
from serving.models import champions
from tests import ml_support
from tests.api.conftest import assert_problem


def _publish(tmp_path, tenant_ids: list[str], sizes=(15,)) -> pl.DataFrame:
    """Score a synthetic lead snapshot for these tenants twice (Nov 1 and Nov 20); return the snapshot."""
    ml_support.trained_models(str(get_settings().home))
    frame = ml_support.lead_frame(tenants=tenant_ids, sizes=sizes, seed=11)
    path = ml_support.write_mart(tmp_path / "w.duckdb", "lead_features", frame)
    model = champions().get("lead_score")
    score_entities("lead", model=model, warehouse=path, scored_at=dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC))
    score_entities("lead", model=model, warehouse=path, scored_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC))
    return frame.filter(pl.col("as_of_date") == frame["as_of_date"].max())


def test_lead_score_with_factors_history_and_fresh(api, tenant, tmp_path):
    latest = _publish(tmp_path, [tenant["tenant_id"]])
    cid = latest["contact_id"][0]
    r = api.get(f"/scores/leads/{cid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"score", "probability", "tier", "factors", "model", "scored_at", "as_of"}
    assert 0 <= body["score"] <= 100 and body["tier"] in "ABCD"
    assert body["model"] == {"name": "lead_score", "version": champions().get("lead_score").version, "kind": "learned",
                             "method": "lightgbm"}
    assert body["factors"] and set(body["factors"][0]) == {"feature", "value", "impact", "text"}
    assert body["scored_at"].startswith("2026-11-20")

    past = api.get(f"/scores/leads/{cid}", params={"as_of": "2026-11-05"}).json()
    assert past["scored_at"].startswith("2026-11-01")
    assert_problem(api.get(f"/scores/leads/{cid}", params={"as_of": "2026-10-31"}), 404)

    assert_problem(api.get(f"/scores/leads/{cid}", params={"fresh": "true", "as_of": "2026-11-05"}), 422)


def test_fresh_computes_the_features_as_of_the_request(api, tenant):
    ml_support.trained_models(str(get_settings().home))
    lead = api.post("/contacts", {"email": "fresh@example.com", "lead_source": "referral"}).json()["id"]
    cold = api.get(f"/scores/leads/{lead}", params={"fresh": "true"})
    assert cold.status_code == 200, cold.text
    before = dt.datetime.now(dt.UTC).isoformat()
    for hours in (1, 2, 3):
        when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()
        assert api.post("/activities", {"type": "email_replied", "occurred_at": when, "contact_id": lead}
                        ).status_code == 201
    warm = api.get(f"/scores/leads/{lead}", params={"fresh": "true"}).json()
    assert warm["as_of"] > before and warm["probability"] > cold.json()["probability"]  # replies an hour ago count
    replies = next(f for f in warm["factors"] if f["feature"] == "emails_replied_30d")
    assert replies["value"] == 3
    customer = api.post("/companies", {"name": "Not a customer yet"}).json()["id"]
    assert_problem(api.get(f"/scores/accounts/{customer}", params={"fresh": "true"}), 404)


def test_what_if_moves_the_score_the_right_way(api, tenant, tmp_path):
    latest = _publish(tmp_path, [tenant["tenant_id"]])
    cid = latest.sort("emails_replied_30d")["contact_id"][0]
    r = api.post(f"/scores/leads/{cid}:what-if", {"features": {"emails_replied_30d": 8, "web_visits_30d": 15}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["probability"] > body["baseline"]["probability"] and body["delta"] == \
        body["score"] - body["baseline"]["score"]
    down = api.post(f"/scores/leads/{cid}:what-if", {"features": {"days_since_last_activity": 200,
                                                                   "emails_replied_30d": 0}}).json()
    assert down["probability"] <= down["baseline"]["probability"]
    assert_problem(api.post(f"/scores/leads/{cid}:what-if", {"features": {"shoe_size": 9}}), 422)
    assert_problem(api.post(f"/scores/leads/{cid}:what-if", {"features": {"web_visits_30d": "many"}}), 422)


def test_batch_up_to_1000_and_missing_ids(api, tenant, tmp_path):
    latest = _publish(tmp_path, [tenant["tenant_id"]])
    ids = latest["contact_id"].to_list()[:5]
    unknown = str(uuid.uuid4())
    r = api.post("/scores/leads:batch", {"contact_ids": [*ids, unknown]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["contact_id"] for d in body["data"]] == ids and body["missing"] == [unknown]
    assert all(d["factors"] for d in body["data"])
    assert_problem(api.post("/scores/leads:batch", {"contact_ids": [unknown] * 1001}), 422)
    assert api.post("/scores/leads:batch", {"contact_ids": [unknown] * 1000}).status_code == 200


def test_another_tenants_ids_are_not_found(api, other_api, tenant, other_tenant, tmp_path):
    latest = _publish(tmp_path, [tenant["tenant_id"], other_tenant["tenant_id"]], sizes=(5, 5))
    theirs = latest.filter(pl.col("tenant_id") == other_tenant["tenant_id"])["contact_id"][0]
    assert other_api.get(f"/scores/leads/{theirs}").status_code == 200
    for params in ({}, {"fresh": "true"}, {"as_of": "2026-11-30"}):
        assert_problem(api.get(f"/scores/leads/{theirs}", params=params), 404)
    assert_problem(api.post(f"/scores/leads/{theirs}:what-if", {"features": {"web_visits_30d": 3}}), 404)
    batch = api.post("/scores/leads:batch", {"contact_ids": [theirs]}).json()
    assert batch == {"data": [], "missing": [theirs]}


def test_account_score_and_unscored_ids(api, tenant, tmp_path):
    models = ml_support.trained_models(str(get_settings().home))
    frame = ml_support.account_frame(sizes=(8,), seed=3).with_columns(pl.lit(tenant["tenant_id"]).alias("tenant_id"))
    path = ml_support.write_mart(tmp_path / "a.duckdb", "account_features", frame)
    score_entities("account", model=champions().get("churn_risk"), warehouse=path)
    company = frame["company_id"][0]
    body = api.get(f"/scores/accounts/{company}").json()
    assert body["model"]["name"] == "churn_risk" and body["factors"]
    live = api.post("/companies", {"name": "Customer", "customer_since": "2025-01-01"}).json()["id"]
    fresh = api.get(f"/scores/accounts/{live}", params={"fresh": "true"}).json()
    assert fresh["model"]["name"] == "churn_risk" and 0 <= fresh["score"] <= 100
    assert models["churn"].decision.promoted
    assert_problem(api.get(f"/scores/accounts/{uuid.uuid4()}"), 404)
    assert_problem(api.get("/scores/leads/not-a-uuid"), 422)

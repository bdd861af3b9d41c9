"""A young contractual agency scored by its own tenure life table: the real choice (models_ml.choice, no learned
model and no labelled month-end), the real live refresh, and the API saying so — `model.kind` / `model.method` on
reads, on `?fresh=true` and on the account batch endpoint. Each agency's table is fitted on its own contracts and
scores only its own accounts; an agency with too few ended contracts gets the stated prior, said in its reason."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from sqlalchemy import text

from crm import tenant_models
from crm.db.engine import tenant_session
from crm.live_features import FeatureQueries
from crm.tenancy import set_churn_mode
from crm.tenure_survival import TenureSurvival
from models_ml.choice import choose
from serving.live.refresh import refresh_tenant
from tests.api.conftest import assert_problem
from tests.pipelines.factory import insert


@pytest.fixture(scope="module")
def queries() -> FeatureQueries:
    from pipelines.lib.live_sql import feature_queries

    return feature_queries()


def _book(tenant_id: str, customers: int, ended: int, seed: int) -> list[str]:
    """`customers` current contracts signed over the last three years, and `ended` contracts that ended, most of
    them in their second year; returns the current customers' ids."""
    rng = random.Random(seed)
    today = dt.datetime.now(dt.UTC)
    ids = []
    with tenant_session(tenant_id) as s:
        for i in range(customers):
            since = (today - dt.timedelta(days=rng.randint(5, 1000))).date()
            ids.append(insert(s, "companies", name=f"Client {i}", lifecycle="customer", customer_since=since))
        for i in range(ended):
            length = rng.randint(300, 700) if i % 4 else rng.randint(20, 200)
            end = today - dt.timedelta(days=rng.randint(1, 300))
            insert(s, "companies", name=f"Former {i}", lifecycle="churned", churned_at=end,
                   customer_since=(end - dt.timedelta(days=length)).date())
    return ids


def _published(tenant_id: str) -> dict[str, int]:
    with tenant_session(tenant_id) as s:
        return {str(r[0]): int(r[1]) for r in s.execute(text(
            "select entity_id, (features->>'days_as_customer')::int from analytics.features_latest "
            "where entity_type = 'account'"))}


def test_a_young_contractual_agency_is_scored_by_its_tenure_life_table_and_says_so(api, tenant, queries):
    t = tenant["tenant_id"]
    set_churn_mode(t, "contractual")
    companies = _book(t, customers=50, ended=25, seed=5)
    chosen = choose("account", queries, tenant_ids=[t]).choices[t]
    # no learned model, or one its rows cannot check (another test of this process may have trained one)
    assert chosen.kind == "survival"
    assert chosen.reason.endswith("the tenure life table fitted on this agency's own data")
    assert "no learned churn_risk model yet" in chosen.reason or "cannot be checked" in chosen.reason
    assert (chosen.params["fitted_on"], chosen.params["customers"], chosen.params["churns"]) == ("own", 75, 25)
    assert chosen.comparison["rows"] == 0
    refresh_tenant(t, queries, limit=100_000)

    body = api.get(f"/scores/accounts/{companies[0]}").json()
    assert body["model"]["kind"] == "fallback" and body["model"]["method"] == "survival"
    assert body["model"]["name"] == "churn_risk" and body["model"]["version"].startswith("survival@")
    [factor] = body["factors"]
    assert factor["feature"] == "days_as_customer" and factor["text"].startswith("Customer for ")
    fresh = api.get(f"/scores/accounts/{companies[0]}", params={"fresh": "true"}).json()
    assert fresh["model"] == body["model"] and fresh["score"] == body["score"]

    unknown = str(uuid.uuid4())
    batch = api.post("/scores/accounts:batch", {"company_ids": [*companies, unknown]}).json()
    assert len(batch["data"]) == 50 and batch["missing"] == [unknown]
    table = TenureSurvival.from_dict(chosen.params["model"])
    tenure = _published(t)
    for item in batch["data"]:   # P(the contract ends within 90 days | its tenure), under this agency's table
        assert item["probability"] == pytest.approx(float(table.p_churn(tenure[item["company_id"]])), abs=1e-6)
        assert item["model"]["method"] == "survival"


def test_each_agency_is_scored_by_its_own_table_and_too_few_ended_contracts_means_the_stated_prior(
        api, other_api, tenant, other_tenant, queries):
    ours, theirs = tenant["tenant_id"], other_tenant["tenant_id"]
    for t in (ours, theirs):
        set_churn_mode(t, "contractual")
    our_ids = _book(ours, customers=40, ended=30, seed=8)
    their_ids = _book(theirs, customers=30, ended=1, seed=9)
    run = choose("account", queries, tenant_ids=[ours, theirs])
    mine, other = run.choices[ours], run.choices[theirs]
    assert mine.params["fitted_on"] == "own" and other.params["fitted_on"] == "prior"
    assert "stated prior" in other.reason and "1 ended contracts" in other.reason
    for t in (ours, theirs):
        refresh_tenant(t, queries, limit=100_000)
        with tenant_session(t) as s:
            stored = tenant_models.choice(s, "account")
        table, tenure = TenureSurvival.from_dict(stored.params["model"]), _published(t)
        client, ids = (api, our_ids) if t == ours else (other_api, their_ids)
        for item in client.post("/scores/accounts:batch", {"company_ids": ids}).json()["data"]:
            assert item["probability"] == pytest.approx(float(table.p_churn(tenure[item["company_id"]])), abs=1e-6)
    # the prior is flat: every one of their accounts has the same risk, whatever ours look like
    theirs_scored = other_api.post("/scores/accounts:batch", {"company_ids": their_ids}).json()["data"]
    assert len({item["probability"] for item in theirs_scored}) == 1
    assert_problem(other_api.get(f"/scores/accounts/{our_ids[0]}"), 404)
    assert other_api.post("/scores/accounts:batch", {"company_ids": our_ids[:3]}).json()["data"] == []

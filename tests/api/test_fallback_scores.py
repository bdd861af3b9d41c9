"""An agency scored by its own fallback: the real choice (models_ml.choice, no month-end history to check a learned
model on), the real live refresh, and the API saying which kind of model answered — `model.kind` on reads, on
`?fresh=true`, on the account batch endpoint — while another agency's ids stay 404."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.live_features import FeatureQueries
from crm.tenancy import set_churn_mode
from models_ml.choice import choose
from serving.live.refresh import refresh_tenant
from tests.api.conftest import assert_problem
from tests.pipelines.factory import insert


@pytest.fixture(scope="module")
def queries() -> FeatureQueries:
    from pipelines.lib.live_sql import feature_queries

    return feature_queries()


def _shop(tenant_id: str, customers: int = 40, seed: int = 4) -> list[str]:
    """Customers with order histories ending at different times: some ordering last week, some lapsed."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    ids = []
    with tenant_session(tenant_id) as s:
        for i in range(customers):
            company = insert(s, "companies", name=f"Shop {i}", lifecycle="customer",
                             customer_since=(now - dt.timedelta(days=400)).date())
            every, stop = rng.randint(10, 40), rng.randint(1, 300)
            day = 380 - rng.randint(0, 30)
            while day > stop:
                insert(s, "activities", type="order", occurred_at=now - dt.timedelta(days=day), company_id=company,
                       amount=rng.randint(20, 300), currency="USD")
                day -= every
            ids.append(company)
    return ids


def test_a_new_purchase_agency_is_scored_by_bg_nbd_and_says_so(api, other_api, tenant, other_tenant, queries):
    t = tenant["tenant_id"]
    set_churn_mode(t, "activity")
    companies = _shop(t)
    run = choose("account", queries, tenant_ids=[t])
    chosen = run.choices[t]
    assert chosen.kind == "bg_nbd" and chosen.params["customers"] == 40, chosen
    refresh_tenant(t, queries, limit=100_000)

    body = api.get(f"/scores/accounts/{companies[0]}").json()
    assert body["model"]["kind"] == "fallback" and body["model"]["method"] == "bg_nbd"
    assert body["model"]["name"] == "churn_risk" and body["model"]["version"].startswith("bg_nbd@")
    assert body["factors"] and {f["feature"] for f in body["factors"]} <= {
        "days_since_last_order", "order_days_lifetime", "days_since_first_order"}
    assert all(f["text"] for f in body["factors"])
    fresh = api.get(f"/scores/accounts/{companies[0]}", params={"fresh": "true"}).json()
    assert fresh["model"] == body["model"] and fresh["score"] == body["score"]

    unknown = str(uuid.uuid4())
    batch = api.post("/scores/accounts:batch", {"company_ids": [*companies, unknown]}).json()
    assert len(batch["data"]) == 40 and batch["missing"] == [unknown]
    by_id = {item["company_id"]: item for item in batch["data"]}
    with tenant_session(t) as s:   # lapsed customers are scored, and riskier than those who ordered lately
        lapsed = {str(r[0]): r[1] for r in s.execute(text(
            "select entity_id, (features->>'is_lapsed')::int from analytics.features_latest "
            "where entity_type = 'account'"))}
    assert set(lapsed.values()) == {0, 1}
    mean = {flag: sum(by_id[c]["score"] for c, v in lapsed.items() if v == flag) / list(lapsed.values()).count(flag)
            for flag in (0, 1)}
    assert mean[1] > mean[0]

    assert_problem(other_api.get(f"/scores/accounts/{companies[0]}"), 404)
    other = other_api.post("/scores/accounts:batch", {"company_ids": companies[:3]}).json()
    assert other["data"] == [] and len(other["missing"]) == 3
    assert_problem(api.post("/scores/accounts:batch", {"company_ids": []}), 422)

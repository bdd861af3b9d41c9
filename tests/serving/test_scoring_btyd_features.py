"""A learned churn model with BG/NBD features (crm.btyd_features) gives an activity-mode account the same
probability through the live refresh, the pipeline's batch pass and a fresh score: each computes the features
under the BG/NBD fit the agency's choice stored, on real PostgreSQL and the compiled dbt SQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text

from crm import btyd_features, tenant_models
from crm.db.engine import tenant_session
from crm.live_features import FeatureQueries, compute
from crm.tenancy import set_churn_mode
from crm.tenant_models import ModelChoice
from models_ml.choice import choose_for_tenant
from models_ml.config import churn_config
from models_ml.train import fit
from serving.batch import score_now
from serving.choice import LearnedForAgency, score_with, scorer_for
from serving.live.refresh import refresh_entities
from serving.models import LoadedModel
from tests import ml_support
from tests.conftest import make_tenant
from tests.models_ml.test_btyd import CDNOW, simulate
from tests.serving.rag_factory import TenantData

MONTH_ENDS = [dt.date(2025, m, 1) - dt.timedelta(days=1) for m in range(2, 13)]


@pytest.fixture(scope="module")
def queries() -> FeatureQueries:
    from pipelines.lib.live_sql import feature_queries

    return feature_queries()


def _learned_model() -> LoadedModel:
    """churn_risk trained on month-ends of BG/NBD-simulated buyers labelled by their next 90 days."""
    rng = np.random.default_rng(3)
    parts = []
    for as_of in MONTH_ENDS:
        T = rng.uniform(20, 500, 400)
        x, t_x, bought = simulate(CDNOW, T, 90.0, rng)
        parts.append(pl.DataFrame({
            "tenant_id": "shop", "company_id": [f"{as_of}-{i}" for i in range(400)], "as_of_date": as_of,
            "churn_mode": "activity", "order_days_lifetime": x + 1, "days_since_first_order": T,
            "days_since_last_order": T - t_x, "churned_90d": (~bought).astype(np.int8)}))
    result = fit(pl.concat(parts), churn_config(lgbm=ml_support.FAST, truth_file=""))
    used = {name for name, gain in result.importance.items() if gain > 0}
    assert used & set(btyd_features.COLUMNS), result.importance   # the features carry weight in the trees
    return LoadedModel("churn_risk", "bgnbd-test", result.booster, result.bundle)


def _shop_with_order_histories(now: dt.datetime) -> str:
    tenant = make_tenant("Shop")["tenant_id"]
    set_churn_mode(tenant, "activity")
    data = TenantData(tenant)
    rng = np.random.default_rng(8)
    T = rng.uniform(30, 400, 45)
    x, t_x, _ = simulate(CDNOW, T, 0.0, rng)
    for i in range(len(T)):
        company = data.company(f"Buyer {i}")
        first = now - dt.timedelta(days=float(T[i]))
        data.execute("update companies set customer_since = :d where id = :c", d=first.date(), c=company)
        between = sorted(rng.uniform(0, t_x[i], max(int(x[i]) - 1, 0))) + ([t_x[i]] if x[i] > 0 else [])
        for offset in [0.0, *between]:
            data.execute("insert into activities (tenant_id, type, company_id, occurred_at, amount, currency) "
                         "values (:t, 'order', :c, :w, 120, 'EUR')", t=tenant, c=company,
                         w=first + dt.timedelta(days=float(offset)))
    return tenant


def _published(tenant: str) -> dict[str, float]:
    with tenant_session(tenant) as s:
        rows = s.execute(text("select entity_id, probability, model_version from scores "
                              "where entity_type = 'account'")).all()
    assert {r.model_version for r in rows} == {"bgnbd-test"}
    return {str(r.entity_id): float(r.probability) for r in rows}


def test_live_batch_and_fresh_scores_agree_under_the_agencys_stored_fit(queries):
    model = _learned_model()
    as_of = dt.datetime.now(dt.UTC)
    tenant = _shop_with_order_histories(as_of)
    with tenant_session(tenant) as s:
        now_frame = compute(s, queries, "account", None, as_of)
        assert now_frame.height == 45
        # what the pipeline's choice stores (the BG/NBD fit on the agency's histories now), kept under "learned"
        fitted = choose_for_tenant("account", churn_config(), now_frame, now_frame.head(0), None, "activity")
        assert fitted.kind == "bg_nbd" and btyd_features.model_of(fitted.params) is not None
        tenant_models.record(s, ModelChoice("account", "learned", "learned: test", fitted.params))

    some = [str(v) for v in now_frame["company_id"].sort()[::4]]
    with tenant_session(tenant) as s:   # the live refresh of touched accounts
        refresh_entities(s, queries, "account", some, as_of, model)
    live = _published(tenant)
    assert set(live) == set(some)

    score_now("account", queries, model=model, scored_at=as_of, tenant_ids=[tenant])   # the pipeline's pass
    batch = _published(tenant)
    assert len(batch) == 45
    assert {i: batch[i] for i in some} == live

    with tenant_session(tenant) as s:   # ?fresh=true: one feature row, scored by the agency's scorer
        scorer = scorer_for(s, "account", model)
        one = compute(s, queries, "account", [some[0]], as_of).row(0, named=True)
    assert isinstance(scorer, LearnedForAgency) and scorer.purchase_model is not None
    (fresh,) = score_with(scorer, "account", pl.DataFrame([one], infer_schema_length=None))
    assert fresh.probability == live[some[0]]

    without = score_with(LearnedForAgency(model, None), "account", now_frame, explain=False)
    assert any(w.probability != batch[w.entity_id] for w in without)   # the stored fit is what moved them

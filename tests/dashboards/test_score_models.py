"""What stands behind a score on the pages: the model in words with the agency's reason, and for a customer in
activity churn mode lapsed vs active and its expected orders and value over the next 90 days (BG/NBD fitted on
simulated order histories, recorded in tenant_models as the pipeline records it), over HTTP against the real app."""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from app.web import app
from crm import scores, tenant_models
from crm.btyd import BgNbd
from crm.db.engine import tenant_session
from crm.tenancy import set_churn_mode
from crm.tenant_models import ModelChoice
from serving.fallback import BG_NBD_COLUMNS, expected_orders
from tests.conftest import make_tenant
from tests.dashboards.test_session import login
from tests.models_ml.test_btyd import CDNOW, simulate
from tests.serving.rag_factory import TenantData

BG_NBD_WORDS = "BG/NBD (fitted on this agency's orders)"
BG_NBD_REASON = "no learned churn_risk model yet: BG/NBD fitted on this agency's own data"
LAPSED = "Lapsed — no order in 90 days"
FACTORS = [{"feature": "days_since_last_order", "value": 120.0, "impact": 31.0, "text": "Last order 120 days ago: +31"}]


@pytest.fixture
def client():
    with TestClient(app, follow_redirects=False) as c:
        yield c


def fitted_bg_nbd_params() -> dict:
    """The agency's BG/NBD parameters as the pipeline's choice stores them, from a real fit."""
    rng = np.random.default_rng(11)
    T = rng.uniform(60, 400, 1500)
    x, t_x, _ = simulate(CDNOW, T, 0.0, rng)
    model = BgNbd.fit(x, t_x, T)
    return {"model": model.to_dict(), "customers": len(x), "horizon_days": 90.0, "tiers": {},
            "typical": {"order_days_lifetime": float(np.median(x) + 1), "days_since_first_order": float(np.median(T)),
                        "days_since_last_order": float(np.median(T - t_x))}}


def account_features(lapsed: bool, avg_order_value: float | None) -> dict:
    last = 120.0 if lapsed else 12.0
    return {"is_lapsed": int(lapsed), "order_days_lifetime": 5, "days_since_first_order": 330.0,
            "days_since_last_order": last, "spend_lifetime": 1550.0, "spend_90d": 0.0 if lapsed else 310.0,
            "spend_prior_90d": 310.0, "avg_order_value": avg_order_value}


def publish_score(tenant_id: str, entity_type: str, entity_id: str, kind: str, version: str,
             features: dict | None = None, score: int = 64) -> None:
    """A current score (and the feature row it came from) written through crm.scores, as the scorers do."""
    now = datetime.now(UTC)
    with tenant_session(tenant_id) as s:
        scores.refresh(s, entity_type, [{
            "entity_id": entity_id, "score": score, "probability": score / 100, "tier": "B",
            "factors": json.dumps(FACTORS), "model_name": "churn_risk" if entity_type == "account" else "lead_score",
            "model_version": version, "model_kind": kind, "scored_at": now}],
            [{"entity_id": entity_id, "as_of_date": date.today(), "features": json.dumps(features),
              "published_at": now}] if features is not None else [])


def add_orders(data: TenantData, company: str, currencies: list[str]) -> None:
    for i, currency in enumerate(currencies):
        data.execute("insert into activities (tenant_id, type, company_id, occurred_at, amount, currency) "
                     "values (:t, 'order', :c, :w, 310, :cur)", t=data.tenant_id, c=company,
                     w=datetime.now(UTC) - timedelta(days=330 - 60 * i), cur=currency)


def _expected(params: dict, features: dict) -> float:
    frame = pl.DataFrame({c: [float(features[c])] for c in BG_NBD_COLUMNS})
    return float(expected_orders(params, frame)[0])


def test_an_activity_mode_account_shows_its_model_state_and_expected_value(client, other_tenant):
    tenant = make_tenant("Shop Agency")
    set_churn_mode(tenant["tenant_id"], "activity")
    data = TenantData(tenant["tenant_id"])
    lapsed, active, unpriced = data.company("Lapsed Goods"), data.company("Active Goods"), data.company("No Prices")
    mixed = data.company("Two Currencies")
    add_orders(data, lapsed, ["USD"] * 5)
    add_orders(data, active, ["EUR"] * 5)
    add_orders(data, mixed, ["EUR", "GBP", "EUR", "GBP", "EUR"])
    params = fitted_bg_nbd_params()
    with tenant_session(tenant["tenant_id"]) as s:
        tenant_models.record(s, ModelChoice("account", "bg_nbd", BG_NBD_REASON, params, {"rows": 0}))
    version = "bg_nbd@2026-05-01T02:00Z"
    publish_score(tenant["tenant_id"], "account", lapsed, "bg_nbd", version, account_features(True, 310.0), score=81)
    publish_score(tenant["tenant_id"], "account", active, "bg_nbd", version, account_features(False, 310.0), score=22)
    publish_score(tenant["tenant_id"], "account", unpriced, "bg_nbd", version, account_features(False, None), score=30)
    publish_score(tenant["tenant_id"], "account", mixed, "bg_nbd", version, account_features(False, 310.0), score=25)
    login(client, tenant["admin_email"], tenant["password"])

    expected = _expected(params, account_features(True, 310.0))
    assert 0.0 < expected < 5.0   # a customer silent for 120 days of 330 still has a fractional expectation
    for url in (f"/companies/{lapsed}", f"/companies/{lapsed}/score-card"):
        r = client.get(url)
        assert r.status_code == 200, url
        page = html.unescape(r.text)
        assert BG_NBD_WORDS in page and BG_NBD_REASON in page, url
        assert LAPSED in page and 'data-customer-state="lapsed"' in page and ">Active<" not in page
        assert f"Expected next 90 days: <b>{expected:.1f} orders</b> · ≈ ${expected * 310:,.0f}" in page, url
        assert "churn_risk v" not in page   # the model is named in words, not by its registry name

    page = html.unescape(client.get(f"/companies/{active}").text)
    assert 'data-customer-state="active"' in page and ">Active<" in page and LAPSED not in page
    active_expected = _expected(params, account_features(False, 310.0))
    assert active_expected > expected   # ordered 12 days ago: more orders ahead than the lapsed customer
    assert f"<b>{active_expected:.1f} orders</b> · ≈ €{active_expected * 310:,.0f}" in page   # orders in EUR

    page = html.unescape(client.get(f"/companies/{mixed}/score-card").text)
    assert f"· ≈ ${active_expected * 310:,.0f}" in page   # orders in two currencies: shown in $

    page = html.unescape(client.get(f"/companies/{unpriced}/score-card").text)
    assert "Expected next 90 days: <b>" in page and "≈" not in page   # no priced order: orders only, no value

    listing = html.unescape(client.get("/accounts").text)
    assert f"Scored by {BG_NBD_WORDS}" in listing and BG_NBD_REASON in listing
    assert listing.count('data-customer-state="lapsed"') == 1   # the lapsed customer only (Active is not listed)
    lapsed_row = listing[listing.index(f'href="/companies/{lapsed}"'):]
    assert lapsed_row.index('data-customer-state="lapsed"') < lapsed_row.index("</tr>")

    # another agency's company: 404 on the page and on its card, nothing of it shown
    theirs = TenantData(other_tenant["tenant_id"])
    their_company = theirs.company("Rival Retail")
    publish_score(other_tenant["tenant_id"], "account", their_company, "bg_nbd", version, account_features(True, 999.0))
    for url in (f"/companies/{their_company}", f"/companies/{their_company}/score-card"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "Rival Retail" not in r.text and LAPSED not in html.unescape(r.text)


def test_contractual_accounts_and_leads_name_their_model_without_an_order_outlook(client, tenant):
    data = TenantData(tenant["tenant_id"])
    acme = data.company("Acme")
    ann = data.contact("ann@acme.test", acme, "Ann")
    with tenant_session(tenant["tenant_id"]) as s:
        tenant_models.record(s, ModelChoice("account", "learned", "contractual churn: the learned model"))
        tenant_models.record(s, ModelChoice("lead", "engagement", "no learned lead_score model yet: the engagement "
                                                                  "model fitted on this agency's own data"))
    publish_score(tenant["tenant_id"], "account", acme, "learned", "3", account_features(True, 310.0))
    publish_score(tenant["tenant_id"], "lead", ann, "engagement", "engagement@2026-05-01T02:00Z")
    login(client, tenant["admin_email"], tenant["password"])

    page = html.unescape(client.get(f"/companies/{acme}").text)
    assert "Learned model v3" in page and "contractual churn: the learned model" in page
    # contractual mode: no lapsed/active state and no expected orders, whatever the feature row says
    assert "data-customer-state" not in page and "Expected next 90 days" not in page

    card = html.unescape(client.get(f"/contacts/{ann}/score-card").text)
    assert "Engagement model (this agency's leads)" in card
    assert "the engagement model fitted on this agency's own data" in card
    leads = html.unescape(client.get("/leads").text)
    assert "Scored by Engagement model (this agency's leads)" in leads
    assert 'title="Engagement model (this agency\'s leads)"' in leads   # each row's score names its model


def test_a_contractual_account_scored_by_its_tenure_life_table_names_it(client, tenant):
    data = TenantData(tenant["tenant_id"])
    acme = data.company("Acme")
    reason = "no learned churn_risk model yet: the tenure life table fitted on this agency's own data"
    with tenant_session(tenant["tenant_id"]) as s:
        tenant_models.record(s, ModelChoice("account", "survival", reason))
    publish_score(tenant["tenant_id"], "account", acme, "survival", "survival@2026-05-01T02:00Z",
                  {"days_as_customer": 400})
    login(client, tenant["admin_email"], tenant["password"])

    page = html.unescape(client.get(f"/companies/{acme}").text)
    assert "Tenure life table (fitted on this agency's contracts)" in page and reason in page
    assert "Expected next 90 days" not in page   # contractual: no order outlook
    accounts = html.unescape(client.get("/accounts").text)
    assert "Tenure life table (fitted on this agency's contracts)" in accounts

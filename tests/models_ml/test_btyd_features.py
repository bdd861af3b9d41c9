"""BG/NBD quantities as churn features (crm.btyd_features): the fitted model's own quantities, per agency and
month-end on that month-end's rows only, and missing (NaN) wherever no purchase-model fit applies."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from crm import btyd_features
from crm.btyd import HORIZON_DAYS, BgNbd, histories_of
from models_ml.config import churn_config
from models_ml.features import feature_columns, with_fitted_features
from tests.models_ml.test_btyd import CDNOW, simulate

JUNE, JULY = dt.date(2026, 6, 30), dt.date(2026, 7, 31)


def month_end_rows(tenant: str, as_of: dt.date, n: int, mode: str, seed: int) -> pl.DataFrame:
    """Account feature rows of one agency at one month-end, with order histories simulated from BG/NBD."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(30, 500, n)
    x, t_x, _ = simulate(CDNOW, T, 0.0, rng)
    return pl.DataFrame({
        "tenant_id": tenant, "company_id": [f"{tenant}-{seed}-{i}" for i in range(n)], "as_of_date": as_of,
        "churn_mode": mode, "order_days_lifetime": (x + 1).astype(np.int64), "days_since_first_order": T,
        "days_since_last_order": T - t_x, "churned_90d": rng.integers(0, 2, n).astype(np.int8)})


@pytest.fixture(scope="module")
def mart() -> pl.DataFrame:
    return pl.concat([
        month_end_rows("shop", JUNE, 300, "activity", 1), month_end_rows("shop", JULY, 320, "activity", 2),
        month_end_rows("saas", JUNE, 200, "contractual", 3), month_end_rows("tiny", JUNE, 12, "activity", 4)])


def test_values_are_the_bgnbd_quantities_of_that_agencys_month_end_fit(mart):
    out = btyd_features.at_month_ends(mart)
    assert out.select(mart.columns).equals(mart)   # rows and their order unchanged
    for as_of in (JUNE, JULY):
        rows = mart.filter((pl.col("tenant_id") == "shop") & (pl.col("as_of_date") == as_of))
        x, t_x, T, has = histories_of(rows)
        assert has.all()
        model = BgNbd.fit(x, t_x, T)
        got = out.filter((pl.col("tenant_id") == "shop") & (pl.col("as_of_date") == as_of))
        np.testing.assert_allclose(got[btyd_features.P_ALIVE].to_numpy(), model.p_alive(x, t_x, T))
        np.testing.assert_allclose(got[btyd_features.P_NO_ORDER].to_numpy(),
                                   model.p_no_purchase(HORIZON_DAYS, x, t_x, T))
        np.testing.assert_allclose(got[btyd_features.EXPECTED_ORDERS].to_numpy(),
                                   model.expected_purchases(HORIZON_DAYS, x, t_x, T))


def test_each_month_end_sees_only_its_own_rows(mart):
    """Point in time: June's values do not move when July's rows change or disappear."""
    june_alone = btyd_features.at_month_ends(mart.filter(pl.col("as_of_date") == JUNE))
    other_july = month_end_rows("shop", JULY, 500, "activity", 9)
    with_other = btyd_features.at_month_ends(pl.concat([mart.filter(pl.col("as_of_date") == JUNE), other_july]))
    for frame in (btyd_features.at_month_ends(mart), with_other):
        june = frame.filter(pl.col("as_of_date") == JUNE)
        assert june.equals(june_alone)
    shop = mart.filter(pl.col("tenant_id") == "shop")
    pooled = btyd_features.quantities(shop, btyd_features.fit_on(shop))   # what a leaky fit would give
    june_shop = june_alone.filter(pl.col("tenant_id") == "shop")[btyd_features.P_NO_ORDER].to_numpy()
    assert not np.allclose(pooled[btyd_features.P_NO_ORDER].to_numpy()[: len(june_shop)], june_shop)


def test_missing_without_a_fit_contractual_or_no_order(mart):
    out = btyd_features.at_month_ends(mart)
    for tenant in ("saas", "tiny"):   # contractual churn; an agency under BG/NBD's 20 customers
        rows = out.filter(pl.col("tenant_id") == tenant).select(btyd_features.COLUMNS)
        assert all(rows[c].is_nan().all() for c in btyd_features.COLUMNS), tenant
    shop = mart.filter(pl.col("tenant_id") == "shop")
    assert all(btyd_features.quantities(shop, None)[c].is_nan().all() for c in btyd_features.COLUMNS)
    no_order = shop.head(3).with_columns(pl.lit(None, dtype=pl.Float64).alias("days_since_first_order"))
    model = btyd_features.fit_on(shop)
    assert btyd_features.quantities(no_order, model)[btyd_features.P_ALIVE].is_nan().all()
    assert btyd_features.model_of({}) is None and btyd_features.model_of(None) is None
    assert btyd_features.model_of({"model": {"kind": "engagement"}}) is None
    assert btyd_features.model_of({"model": model.to_dict(), "tiers": {}}) == model


def test_scoring_under_the_stored_fit_equals_training_on_the_same_rows(mart):
    """The choice stores a fit from the agency's histories now; scored under it, a frame gets exactly what
    training computes for a month-end with the same rows."""
    july = mart.filter((pl.col("tenant_id") == "shop") & (pl.col("as_of_date") == JULY))
    stored = {"model": btyd_features.fit_on(july).to_dict()}
    scored = btyd_features.with_quantities(july.drop("churn_mode"), btyd_features.model_of(stored))
    trained = btyd_features.at_month_ends(july)
    assert scored.select(btyd_features.COLUMNS).equals(trained.select(btyd_features.COLUMNS))


def test_training_sees_them_as_account_features_only(mart):
    cfg = churn_config()
    frame = with_fitted_features(mart, "account")
    features, _ = feature_columns(frame, cfg)
    assert set(btyd_features.COLUMNS) <= set(features)
    assert with_fitted_features(mart, "lead") is mart

"""The tenure life table (crm.tenure_survival) against a case worked by hand, censoring included, against
simulated customers whose true hazard is known, and its probabilities' calibration on simulated contracts."""

from __future__ import annotations

import numpy as np
import pytest

from crm.tenure_survival import PRIOR_YEARLY_CHURN, TenureSurvival


def _hand_case() -> tuple[np.ndarray, np.ndarray]:
    """20 customers: 4 churned on day 10, 2 last seen on day 20, 2 churned on day 45, 12 last seen on day 60."""
    days = np.array([10] * 4 + [20] * 2 + [45] * 2 + [60] * 12, dtype=float)
    churned = np.array([True] * 4 + [False] * 2 + [True] * 2 + [False] * 12)
    return days, churned


def test_the_unsmoothed_table_is_churns_over_customer_days_at_risk_per_month():
    days, churned = _hand_case()
    model = TenureSurvival.fit(days, churned, prior_churns=0.0)
    # month 0 (days 0-30): 4 x 10 + 2 x 20 + 14 x 30 = 500 customer-days, 4 churns;
    # month 1 and after: 2 x 15 + 12 x 30 = 390 customer-days, 2 churns. The censored count only while seen.
    assert model.fitted_on == "own" and (model.customers, model.churns) == (20, 6)
    assert model.rates == pytest.approx((4 / 500, 2 / 390))
    # 10 days in: 20 more days of month 0, then 70 at the later rate
    assert model.p_churn(10.0) == pytest.approx(1 - np.exp(-(20 * 4 / 500 + 70 * 2 / 390)))
    assert model.survival(45.0) == pytest.approx(np.exp(-(30 * 4 / 500 + 15 * 2 / 390)))
    # censoring is information: had the 14 customers still with us been counted only to their last churn-free
    # month's start, month 1 would read 2 churns in 30 customer-days
    shorter = TenureSurvival.fit(np.where(churned, days, np.minimum(days, 30.0)), churned, prior_churns=0.0)
    assert shorter.rates[0] == pytest.approx(4 / 500) and shorter.rates[1] == pytest.approx(2 / 30)


def test_smoothing_adds_two_churns_at_the_agencys_overall_rate_to_every_month():
    days, churned = _hand_case()
    model = TenureSurvival.fit(days, churned)
    overall = 6 / 890
    pseudo_days = 2 / overall
    assert model.rates == pytest.approx(((4 + 2) / (500 + pseudo_days), (2 + 2) / (390 + pseudo_days)))


def test_too_few_customers_or_churns_get_the_stated_prior():
    days, churned = _hand_case()
    few = TenureSurvival.fit(days[:10], churned[:10])
    calm = TenureSurvival.fit(days, np.zeros_like(churned))
    for model in (few, calm):
        assert model.fitted_on == "prior"
        assert 1 - model.survival(365.0) == pytest.approx(PRIOR_YEARLY_CHURN)
        assert model.p_churn(30.0) == pytest.approx(model.p_churn(900.0))
    assert (few.customers, few.churns) == (10, 6) and (calm.customers, calm.churns) == (20, 0)
    again = TenureSurvival.from_dict(few.to_dict())
    assert again == few
    with pytest.raises(ValueError, match="tenures"):
        TenureSurvival.fit([-1.0] * 30, [False] * 30)


def _contracts(rng: np.random.Generator, n: int, hazard) -> tuple[np.ndarray, np.ndarray]:
    """Customers who signed uniformly over the last 5 years; each contract's length drawn from `hazard`
    (daily, a function of tenure days) by inverting its cumulative hazard on a daily grid."""
    grid = np.arange(0, 6000, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(hazard(grid[:-1] + 0.5))])
    length = np.interp(rng.exponential(1.0, n), cumulative, grid)
    signed = rng.uniform(0, 5 * 365, n)   # days before now
    return signed, length


def _increasing(u: np.ndarray) -> np.ndarray:
    """Calm for a year, then three times as likely to end: the shape contract churn often has."""
    return np.where(u < 365, 0.0004, 0.0012)


def test_against_simulation_the_table_recovers_the_true_hazard():
    rng = np.random.default_rng(3)
    signed, length = _contracts(rng, 20_000, _increasing)
    churned = length <= signed
    model = TenureSurvival.fit(np.minimum(length, signed), churned)
    rates = np.asarray(model.rates)
    assert rates[1:11].mean() == pytest.approx(0.0004, rel=0.12)
    assert rates[14:30].mean() == pytest.approx(0.0012, rel=0.12)
    for tenure in (100.0, 300.0, 700.0):
        truth = 1 - np.exp(-np.sum(_increasing(np.arange(tenure, tenure + 90) + 0.5)))
        assert model.p_churn(tenure) == pytest.approx(truth, abs=0.012)


def _ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * np.mean(which == b)
                     for b in range(bins) if np.any(which == b)))


def test_its_probabilities_are_calibrated_on_the_next_90_days_of_simulated_contracts():
    rng = np.random.default_rng(11)
    weibull = lambda u: 1.6 * (np.maximum(u, 0.5) / 1400.0) ** 0.6 / 1400.0   # noqa: E731 - hazard rising with tenure
    signed, length = _contracts(rng, 30_000, weibull)
    model = TenureSurvival.fit(np.minimum(length, signed), length <= signed)
    current = length > signed                       # today's customers, scored on their tenure
    p = model.p_churn(signed[current])
    y = (length[current] <= signed[current] + 90).astype(float)   # what the next 90 days bring
    assert abs(p.mean() - y.mean()) < 0.005
    assert _ece(p, y) < 0.01


def test_delayed_entry_counts_only_the_tenure_lived_under_observation():
    days, churned = _hand_case()
    # the 12 customers last seen on day 60 came under observation on day 40: 20 days each in month 1, none in
    # month 0, which is now 4 x 10 + 2 x 20 + 2 x 30 = 140 customer-days; month 1 is 2 x 15 + 12 x 20 = 270
    entered = np.where(days == 60, 40.0, 0.0)
    model = TenureSurvival.fit(days, churned, entered, prior_churns=0.0)
    assert model.rates == pytest.approx((4 / 140, 2 / 270))
    with pytest.raises(ValueError, match="entry"):
        TenureSurvival.fit(days, churned, days + 1)


def test_survivors_of_a_record_that_starts_late_do_not_make_early_tenures_look_safe():
    """Contracts signed over five years, ends recorded only in the last two: the customers who ended before the
    record are missing. Without delayed entry the early months look safer than they are."""
    rng = np.random.default_rng(5)
    signed, length = _contracts(rng, 30_000, _increasing)
    record = 2 * 365.0
    seen = length > signed - record                # still a customer when the record began (or signed after)
    days, ended = np.minimum(length, signed)[seen], (length <= signed)[seen]
    entered = np.clip(signed - record, 0.0, None)[seen]
    truncated = TenureSurvival.fit(days, ended, entered)
    naive = TenureSurvival.fit(days, ended)
    truth = 1 - np.exp(-90 * 0.0004)
    assert truncated.p_churn(100.0) == pytest.approx(truth, abs=0.006)
    assert naive.p_churn(100.0) < truth - 0.01

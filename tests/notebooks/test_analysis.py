"""The notebook statistics against results worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm.analysis import (
    calibration_table,
    cohort_conversion,
    kaplan_meier,
    lift_table,
    median_survival,
    psi,
    survival_at,
    win_rates,
)


def test_kaplan_meier_matches_the_hand_computed_curve():
    # times 1,2,2,3,4,5 with the 2nd "2" and the 4 censored.
    table = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    assert table["time"].tolist() == [1, 2, 3, 4, 5]
    assert table["at_risk"].tolist() == [6, 5, 3, 2, 1]
    assert table["events"].tolist() == [1, 1, 1, 0, 1]
    expected = np.cumprod([5 / 6, 4 / 5, 2 / 3, 1.0, 0.0])
    assert np.allclose(table["survival"], expected)
    assert survival_at(table, 0.5) == 1.0 and survival_at(table, 3.5) == pytest.approx(4 / 9)
    assert median_survival(table) == 3
    # Greenwood at t=1: S * sqrt(1 / (6*5)); the band brackets the estimate.
    se = (5 / 6) * np.sqrt(1 / 30)
    assert table["lower"].iloc[0] == pytest.approx(5 / 6 - 1.96 * se)
    assert (table["lower"] <= table["survival"]).all() and (table["upper"] >= table["survival"]).all()


def test_kaplan_meier_delayed_entry_keeps_late_entrants_out_of_earlier_risk_sets():
    # B came under observation at 6: at t=5 only A is at risk, so A's churn takes S to 0, not 0.5.
    naive = kaplan_meier([5, 10], [True, False])
    truncated = kaplan_meier([5, 10], [True, False], entry=[0, 6])
    assert naive["survival"].tolist() == [0.5, 0.5]
    assert truncated["at_risk"].tolist() == [1, 1] and truncated["survival"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="entry"):
        kaplan_meier([5], [True], entry=[6])


def test_kaplan_meier_without_events_stays_at_one_and_rejects_bad_input():
    table = kaplan_meier([3, 1, 2], [False, False, False])
    assert table["survival"].eq(1.0).all() and np.isnan(median_survival(table))
    with pytest.raises(ValueError):
        kaplan_meier([1, -2], [True, True])
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError):
        kaplan_meier([1, float("nan")], [True, True])


def test_lift_and_calibration_tables():
    y = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    lift = lift_table(y, p, groups=5)
    assert lift["count"].tolist() == [2, 2, 2, 2, 2]
    assert lift["positives"].tolist() == [2, 1, 0, 0, 0]
    assert lift["lift"].iloc[0] == pytest.approx(1.0 / 0.3)
    assert lift["cumulative_capture"].tolist() == pytest.approx([2 / 3, 1, 1, 1, 1])
    cal = calibration_table(y, p, bins=2)
    assert cal["count"].tolist() == [5, 5]
    assert cal["observed_rate"].tolist() == pytest.approx([0.0, 0.6])
    assert cal["mean_predicted"].tolist() == pytest.approx([np.mean(p[5:]), np.mean(p[:5])])


def test_psi_is_zero_for_the_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 100, 5000)
    assert psi(base, base) == pytest.approx(0.0)
    small, large = psi(base, np.clip(base + 5, 0, 100)), psi(base, np.clip(base * 0.3, 0, 100))
    assert 0 < small < 0.1 < 0.25 < large
    # Scores bunched at a few values: the quantile bins still see a move from 0 to 2.
    bunched = np.r_[np.zeros(80), np.ones(15), np.full(5, 2.0)]
    assert psi(bunched, bunched) == pytest.approx(0.0)
    assert psi(bunched, np.r_[np.zeros(40), np.ones(15), np.full(45, 2.0)]) > 0.25
    with pytest.raises(ValueError):
        psi([], [1.0])


def test_cohort_conversion_censors_cohorts_too_young_for_the_horizon():
    ts = pd.Timestamp
    contacts = pd.DataFrame({"contact_id": ["a", "b", "c", "d"],
                             "created_at": [ts("2025-01-10"), ts("2025-02-01"), ts("2025-03-15"), ts("2025-12-01")]})
    deals = pd.DataFrame({"contact_id": ["a", "a", "b", "d"], "deal_status": ["won", "won", "lost", "won"],
                          "closed_at": [ts("2025-03-01"), ts("2025-01-20"), ts("2025-02-10"), ts("2025-12-05")]})
    out = cohort_conversion(contacts, deals, as_of=ts("2025-12-31"), horizons=(30, 90), freq="Q").set_index("cohort")
    assert out.loc["2025Q1", "contacts"] == 3
    assert out.loc["2025Q1", "converted_30d"] == pytest.approx(1 / 3)  # a's first win is 10 days in
    assert out.loc["2025Q4", "converted_30d"] == 1.0
    assert np.isnan(out.loc["2025Q4", "converted_90d"])  # d is 30 days old: 90 days not yet observable


def test_win_rates_count_only_closed_deals():
    deals = pd.DataFrame({"deal_id": list("abcde"), "owner_name": ["x", "x", "x", "y", "y"],
                          "deal_status": ["won", "lost", "open", "won", "won"], "amount": [10.0, 20, 30, 5, 5],
                          "age_days": [10, 20, 5, 30, 50]})
    out = win_rates(deals, "owner_name").set_index("owner_name")
    assert out.loc["x", "closed"] == 2 and out.loc["x", "win_rate"] == 0.5 and out.loc["x", "won_amount"] == 10
    assert out.loc["y", "win_rate"] == 1.0 and out.loc["y", "median_cycle_days"] == 40

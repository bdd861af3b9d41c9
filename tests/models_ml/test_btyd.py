"""BG/NBD: parameters recovered from a simulated BG/NBD population, and the churn probability checked
against a Monte Carlo of the same process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crm.btyd import BgNbd

CDNOW = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)  # the paper's estimates, a realistic population


def simulate(model: BgNbd, T: np.ndarray, horizon: float, rng: np.random.Generator):
    """Each customer's first purchase at day 0, watched until T: (x, t_x, bought in (T, T + horizon])."""
    n = len(T)
    lam = rng.gamma(model.r, 1.0 / model.alpha, n)
    p = rng.beta(model.a, model.b, n)
    now, x, t_x = np.zeros(n), np.zeros(n), np.zeros(n)
    bought_after = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    while active.any():
        i = np.flatnonzero(active)
        nxt = now[i] + rng.exponential(1.0, i.size) / lam[i]
        beyond = nxt > T[i] + horizon
        active[i[beyond]] = False
        i, nxt = i[~beyond], nxt[~beyond]
        inside = nxt <= T[i]
        bought_after[i[~inside]] = True
        active[i[~inside]] = False
        i, nxt = i[inside], nxt[inside]
        x[i] += 1
        t_x[i] = now[i] = nxt
        active[i[rng.random(i.size) < p[i]]] = False   # dropout happens right after a purchase
    return x, t_x, bought_after


def test_fit_recovers_the_parameters_of_a_simulated_population():
    rng = np.random.default_rng(7)
    T = rng.uniform(60, 400, 6000)
    x, t_x, _ = simulate(CDNOW, T, 0.0, rng)
    assert (x == 0).mean() > 0.3   # many one-time buyers: x = 0 rows must be handled
    fitted = BgNbd.fit(x, t_x, T)
    for name, tolerance in (("r", 0.15), ("alpha", 0.15), ("a", 0.3), ("b", 0.3)):
        true, got = getattr(CDNOW, name), getattr(fitted, name)
        assert abs(got - true) / true < tolerance, (name, true, got)
    # the fitted parameters explain the data at least as well as the true ones
    assert BgNbd.log_likelihood(tuple(vars(fitted).values()), x, t_x, T).sum() >= \
        BgNbd.log_likelihood((CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b), x, t_x, T).sum()


@pytest.mark.parametrize("history", [(0, 0.0, 2.0), (1, 40.0, 2.0), (1, 110.0, 2.0), (3, 100.0, 2.0),
                                     (3, 30.0, 3.0)])
def test_p_no_purchase_matches_a_monte_carlo_of_the_same_process(history):
    x_h, t_x_h, width = history
    model = BgNbd(r=0.5, alpha=10.0, a=0.8, b=2.5)
    rng = np.random.default_rng(11)
    T = np.full(400_000, 120.0)
    x, t_x, bought = simulate(model, T, 90.0, rng)
    # customers whose simulated history matches (t_x within a few days: it is continuous)
    like = (x == x_h) & ((x == 0) | (np.abs(t_x - t_x_h) <= width))
    assert like.sum() > 1000
    observed = 1.0 - bought[like].mean()
    standard_error = np.sqrt(observed * (1 - observed) / like.sum())
    predicted = float(model.p_no_purchase(90.0, x_h, t_x_h, 120.0))
    assert abs(predicted - observed) < 4 * standard_error + 0.01, (predicted, observed)


def test_probabilities_lie_in_0_1_and_move_the_right_way_with_recency():
    model = CDNOW
    t_x = np.linspace(0.0, 200.0, 41)
    for x in (1, 3, 20):
        alive = model.p_alive(x, t_x, 200.0)
        churn = model.p_no_purchase(90.0, x, t_x, 200.0)
        assert np.all((alive >= 0) & (alive <= 1)) and np.all((churn >= 0) & (churn <= 1))
        # (a frequent buyer silent for months saturates at "gone": monotone, strictly over the range)
        assert np.all(np.diff(alive) >= -1e-12) and alive[-1] > alive[0] + 0.5, "recent buyer: more likely alive"
        assert np.all(np.diff(churn) <= 1e-12) and churn[-1] < churn[0] - 0.2, "... and less likely silent"
    # a longer horizon leaves less room for silence; a one-time buyer is alive by the model's assumption
    assert model.p_no_purchase(30.0, 2, 150.0, 200.0) > model.p_no_purchase(180.0, 2, 150.0, 200.0)
    assert model.p_alive(0, 0.0, 300.0) == 1.0


def test_expected_purchases_agrees_with_quadrature_for_small_and_large_histories():
    model = CDNOW
    for x, t_x, T in ((0, 0.0, 200.0), (1, 50.0, 200.0), (5, 190.0, 200.0), (300, 199.0, 200.0)):
        closed_form = float(model.expected_purchases(90.0, x, t_x, T))
        integrated = model._expected_if_alive(90.0, x, T) * float(model.p_alive(x, t_x, T))
        assert closed_form == pytest.approx(integrated, rel=1e-6)
        assert np.isfinite(closed_form) and closed_form >= 0
    assert float(model.expected_purchases(0.0, 4, 100.0, 200.0)) == pytest.approx(0.0, abs=1e-12)


def test_expected_purchases_match_a_simulated_population():
    rng = np.random.default_rng(5)
    T = np.full(200_000, 150.0)
    x, _, _ = simulate(CDNOW, T, 0.0, rng)
    # the population mean of the conditional expectation is the unconditional expectation (FHL eq. 9)
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    z = 150.0 / (alpha + 150.0)
    from scipy.special import hyp2f1
    unconditional = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + 150.0)) ** r * hyp2f1(r, b, a + b - 1, z))
    assert x.mean() == pytest.approx(unconditional, rel=0.03)


def test_fit_refuses_too_few_customers_and_no_repeaters_with_clear_errors():
    with pytest.raises(ValueError, match="at least"):
        BgNbd.fit([1, 0, 2], [10.0, 0.0, 20.0], [30.0, 30.0, 30.0])
    with pytest.raises(ValueError, match="bought again"):
        BgNbd.fit(np.zeros(100), np.zeros(100), np.full(100, 50.0))
    with pytest.raises(ValueError, match="t_x <= T"):
        CDNOW.p_alive(2, 60.0, 50.0)


def test_dict_round_trip_is_plain_json():
    restored = BgNbd.from_dict(json.loads(json.dumps(CDNOW.to_dict())))
    assert restored == CDNOW
    with pytest.raises(ValueError):
        BgNbd.from_dict({"kind": "pareto_nbd", "r": 1, "alpha": 1, "a": 1, "b": 1})


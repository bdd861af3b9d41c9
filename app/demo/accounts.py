"""The account (customer) process: a health curve, a churn hazard on it, and orders that thin out.

Health h(t) = h0 - kappa * max(0, t - onset) / 30: stable, then (from a latent onset) declining.
Churn hazard per day eta(t) = exp(CHURN_A + CHURN_B * h(t)); the churn day S is the first day whose
cumulative hazard passes an Exp(1) draw. Orders are Poisson per day with rate
lam0 * exp(ORDER_B * (h(t) - h0)) while the customer lives (t < S).

- contractual tenants record S as companies.churned_at;
- activity tenants record nothing: the customer silently stops ordering on day S.

Both 90-day probabilities are exact given the latent curve (see `p_churn_contractual` and
`p_no_order`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHURN_A, CHURN_B = -7.3, -1.1
ORDER_B = 0.8
ONSET_MEAN_DAYS = 500
NEVER = 10**6


@dataclass
class Accounts:
    company: np.ndarray  # company index
    since: np.ndarray  # first customer day (negative: before the history)
    h0: np.ndarray
    onset: np.ndarray
    kappa: np.ndarray
    lam0: np.ndarray  # orders per day while healthy
    health: np.ndarray  # (m, n_days)
    eta: np.ndarray  # (m, n_days) daily churn hazard
    lam: np.ndarray  # (m, n_days) daily order rate while alive
    churn_day: np.ndarray  # S, or NEVER
    orders: np.ndarray  # (m, days) order counts in the history


def make_accounts(rng: np.random.Generator, company: np.ndarray, since: np.ndarray, fit: np.ndarray,
                  mode: str, days: int, n_days: int) -> Accounts:
    m = len(company)
    h0 = rng.normal(0.5, 0.6, m) + 0.3 * fit
    onset = np.maximum(since, 0) + rng.exponential(ONSET_MEAN_DAYS, m).astype(int)
    kappa = rng.gamma(2.0, 0.15, m)
    t = np.arange(n_days)[None, :]
    health = np.maximum(h0[:, None] - kappa[:, None] * np.maximum(0, t - onset[:, None]) / 30, -3.0)
    eta = np.exp(CHURN_A + CHURN_B * health)
    per_month = 2.5 if mode == "activity" else 1.2
    lam0 = rng.gamma(4.0, 0.25, m) * per_month / 30
    lam = lam0[:, None] * np.exp(ORDER_B * (health - h0[:, None]))

    # Churn can happen from the day after the first customer day (or from the history's first day).
    first = np.maximum(since + 1, 0)
    live = t >= first[:, None]
    cum = np.cumsum(np.where(live, eta, 0.0), axis=1)
    crossed = cum >= rng.exponential(1.0, m)[:, None]
    churn_day = np.where(crossed.any(1), crossed.argmax(1), NEVER)

    alive = (t[:, :days] >= np.maximum(since, 0)[:, None]) & (t[:, :days] < churn_day[:, None])
    orders = rng.poisson(np.where(alive, lam[:, :days], 0.0))
    # Winning the deal is the first order; it lands on the first customer day.
    started = since >= 0
    orders[np.flatnonzero(started), since[started]] = np.maximum(orders[started, since[started]], 1)
    return Accounts(company, since, h0, onset, kappa, lam0, health, eta, lam, churn_day, orders)


def p_churn_contractual(acc: Accounts, rows: np.ndarray, as_of: np.ndarray, horizon: int = 90) -> np.ndarray:
    """P(churn day in (as_of, as_of + horizon] | alive at the end of as_of)."""
    days = as_of[:, None] + np.arange(1, horizon + 1)[None, :]
    return 1 - np.exp(-acc.eta[rows[:, None], days].sum(1))


def p_no_order(acc: Accounts, rows: np.ndarray, as_of: np.ndarray, horizon: int = 90) -> np.ndarray:
    """P(no order on days as_of+1 .. as_of+horizon), given the latent curve and whether S <= as_of.

    Orders happen on day d only while d < S. Summing over the churn day j in the window:
    P = sum_j P(S = j) exp(-sum_{as_of < d < j} lam_d) + P(S > as_of + horizon) exp(-sum_window lam).
    """
    days = as_of[:, None] + np.arange(1, horizon + 1)[None, :]
    eta = acc.eta[rows[:, None], days]
    lam = acc.lam[rows[:, None], days]
    surv_before = np.exp(-(np.cumsum(eta, 1) - eta))  # P(S > d - 1 | S > as_of)
    churn_on = surv_before * (1 - np.exp(-eta))  # P(S = d | S > as_of)
    quiet_before = np.exp(-(np.cumsum(lam, 1) - lam))  # P(no order on as_of+1 .. d-1 | alive)
    survive_all = np.exp(-eta.sum(1))
    p = (churn_on * quiet_before).sum(1) + survive_all * np.exp(-lam.sum(1))
    stopped = acc.churn_day[rows] <= as_of
    return np.where(stopped, 1.0, p)

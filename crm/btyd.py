"""BG/NBD buy-till-you-die model (Fader, Hardie & Lee 2005), written from the paper's formulas.

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); right after each
purchase they drop out for good with probability p ~ Beta(a, b). A customer's history is three numbers,
in days: x repeat purchases (purchase days after the first), t_x the time from the first to the last
purchase, T the time from the first purchase to now. Fitted per agency by maximum likelihood; the churn
probability it serves is `p_no_purchase`: no purchase at all in the next t days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl
from scipy.integrate import quad
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

MIN_CUSTOMERS = 20
MIN_REPEATERS = 2
# Parameters are fitted as logs within these bounds: wide enough for days or weeks as the unit, narrow
# enough that a degenerate history (everyone bought once more, at once) cannot run a parameter to inf.
LOG_BOUNDS = (-12.0, 12.0)


def _histories(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    if np.any(~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T)):
        raise ValueError("BG/NBD histories must be finite numbers (customers without a first purchase have none)")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T <= 0):
        raise ValueError("BG/NBD histories need x >= 0, t_x >= 0 and T > 0 (days since the first purchase)")
    if np.any(t_x > T + 1e-9):
        raise ValueError("BG/NBD histories need t_x <= T: the last purchase cannot be after now")
    # With no repeat purchase the recency carries no information; the likelihood assumes t_x = 0 there.
    return x, np.where(x > 0, t_x, 0.0), T


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    # -- fitting ------------------------------------------------------------------------------------

    @staticmethod
    def log_likelihood(params: tuple[float, float, float, float], x, t_x, T) -> np.ndarray:
        """Per-customer log-likelihood (FHL 2005, eq. 6), in logs throughout so x = 0 and large x stay finite."""
        r, alpha, a, b = params
        x, t_x, T = _histories(x, t_x, T)
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        still_alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        repeat = x > 0
        # Dropped out right after the last purchase; only possible after a repeat purchase (x > 0).
        dropped = np.full_like(x, -np.inf)
        xr = x[repeat]
        dropped[repeat] = (betaln(a + 1, b + xr - 1) - betaln(a, b)
                           - (r + xr) * np.log(alpha + t_x[repeat]))
        return common + np.logaddexp(still_alive, dropped)

    @classmethod
    def fit(cls, x, t_x, T, penalty: float = 0.0) -> BgNbd:
        """Maximum-likelihood parameters for these customers' histories (days).

        `penalty` adds an L2 pull of the log-parameters towards 0, for tiny agencies; 0 is the plain MLE.
        """
        x, t_x, T = _histories(x, t_x, T)
        if x.size < MIN_CUSTOMERS:
            raise ValueError(f"BG/NBD needs at least {MIN_CUSTOMERS} customers with a first purchase; got {x.size}")
        repeaters = int(np.sum(x > 0))
        if repeaters < MIN_REPEATERS:
            raise ValueError(f"BG/NBD needs customers who bought again to learn a dropout rate; only {repeaters} of "
                             f"{x.size} customers made a repeat purchase")
        rate = max(float(x.sum() / T.sum()), 1e-6)
        # Start: a moderately heterogeneous rate around the observed one, and an even dropout prior.
        start = np.log([1.0, 1.0 / rate, 1.0, 3.0])

        def objective(theta: np.ndarray) -> float:
            value = -cls.log_likelihood(tuple(np.exp(theta)), x, t_x, T).sum() / x.size
            return float(value + penalty * np.sum(theta ** 2)) if np.isfinite(value) else 1e100

        result = minimize(objective, start, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 4,
                          options={"maxiter": 2000})
        if not np.all(np.isfinite(result.x)):
            raise ValueError(f"BG/NBD fit did not converge: {result.message}")
        r, alpha, a, b = (float(v) for v in np.exp(result.x))
        return cls(r=r, alpha=alpha, a=a, b=b)

    # -- the customer's state ------------------------------------------------------------------------

    def _odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(dropped out) / P(alive) given the history (FHL 2005, eq. 13's denominator minus one)."""
        repeat = x > 0
        out = np.zeros_like(x)
        xr = x[repeat]
        log_odds = (np.log(self.a) - np.log(self.b + xr - 1)
                    + (self.r + xr) * (np.log(self.alpha + T[repeat]) - np.log(self.alpha + t_x[repeat])))
        out[repeat] = np.exp(np.minimum(log_odds, 700.0))
        return out

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still alive at T | x, t_x, T)."""
        x, t_x, T = _histories(x, t_x, T)
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T))

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10).

        The paper's 2F1(r+x, b+x; a+b+x-1; z) with z = t / (alpha+T+t) converges slowly and loses precision
        when r+x and b+x are large; Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)
        turns (1-z)^(r+x) 2F1(...) into (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose upper parameters
        are small whatever x is.
        """
        x, t_x, T = _histories(x, t_x, T)
        t = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
        if np.any(t < 0):
            raise ValueError("the horizon t must be >= 0 days")
        r, alpha, b = self.r, self.alpha, self.b
        a = self.a if abs(self.a - 1.0) > 1e-6 else 1.0 + 1e-6  # a = 1 is a removable 0/0 in the formula
        z = t / (alpha + T + t)
        tail = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
        expected = (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail)
        bad = ~np.isfinite(expected)
        if np.any(bad):  # 2F1 at a lower parameter near a non-positive integer: integrate instead
            expected[bad] = [self._expected_if_alive(ti, xi, Ti) for ti, xi, Ti in zip(t[bad], x[bad], T[bad],
                                                                                      strict=True)]
        return np.maximum(expected, 0.0) / (1.0 + self._odds_dead(x, t_x, T))

    def _expected_if_alive(self, t: float, x: float, T: float) -> float:
        """E[purchases in t | alive at T] by quadrature over the dropout posterior p ~ Beta(a, b + x): given
        lambda and p an alive customer buys (1 - exp(-lambda p t)) / p times in expectation, and lambda ~
        Gamma(r + x, alpha + T) integrates that to (1 - ((alpha+T) / (alpha+T+p t))^(r+x)) / p."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b + x
        log_norm = betaln(a, b)

        def integrand(p: float) -> float:
            bought = -np.expm1((r + x) * (np.log(alpha + T) - np.log(alpha + T + p * t))) / p
            return bought * np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - log_norm)

        return float(quad(integrand, 0.0, 1.0, limit=200)[0])

    def p_no_purchase(self, t, x, t_x, T) -> np.ndarray:
        """P(no purchase in (T, T + t] | x, t_x, T): the churn probability over a horizon of t days.

        Dead at T (1 - P(alive)) means no purchase. Alive at T, the posterior is lambda ~ Gamma(r + x,
        alpha + T) and dropout can only happen right after a purchase, so a customer who makes none in the
        window stays alive through it and P(no purchase | alive, lambda) = exp(-lambda t); integrated over
        the posterior, ((alpha + T) / (alpha + T + t))^(r + x).
        """
        x, t_x, T = _histories(x, t_x, T)
        t = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
        if np.any(t < 0):
            raise ValueError("the horizon t must be >= 0 days")
        alive = self.p_alive(x, t_x, T)
        quiet_if_alive = np.exp((self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + T + t)))
        return np.clip(1.0 - alive + alive * quiet_if_alive, 0.0, 1.0)

    # -- (de)serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, float | str]:
        return {"kind": "bg_nbd", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> BgNbd:
        if data.get("kind", "bg_nbd") != "bg_nbd":
            raise ValueError(f"not a BG/NBD model: kind {data.get('kind')!r}")
        return cls(**{k: float(data[k]) for k in ("r", "alpha", "a", "b")})



# A first order placed this instant has T = 0, which BG/NBD cannot take: an hour old is the same customer.
MIN_AGE_DAYS = 1 / 24
HORIZON_DAYS = 90.0   # the churn question the fallback answers: no order in the next 90 days
# The account feature columns (marts.account_features and its live form) a customer's history is read from.
FEATURE_COLUMNS = ("order_days_lifetime", "days_since_first_order", "days_since_last_order")


def histories_of(frame: pl.DataFrame) -> tuple[np.ndarray, ...]:
    """(x, t_x, T, has_history) from the account feature columns (null or NaN = no order): x = order days - 1,
    t_x = first to last order, T = age, in days. Rows without an order get a first order an hour ago and
    has_history False."""
    days, first, last = (frame[c].cast(pl.Float64).fill_nan(None).fill_null(np.nan).to_numpy()
                         for c in FEATURE_COLUMNS)
    has = np.isfinite(first) & np.isfinite(last) & (np.nan_to_num(days) >= 1)
    age = np.where(has, np.maximum(np.nan_to_num(first), MIN_AGE_DAYS), MIN_AGE_DAYS)
    recency = np.where(has, np.clip(np.nan_to_num(first) - np.nan_to_num(last), 0.0, None), 0.0)
    x = np.where(has, np.nan_to_num(days) - 1.0, 0.0)
    return x, np.where(x > 0, np.minimum(recency, age), 0.0), age, has

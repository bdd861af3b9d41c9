"""Contractual churn by tenure: a smoothed life table of one agency's own customers, censoring included.

A customer's history is one number and a flag: the days from `customer_since` to the contract's end
(`churned_at`, an event) or to now (still a customer, censored). The hazard is constant within each 30-day
month of tenure (a piecewise-exponential life table), so censoring costs nothing: a month's rate is its churns
over the customer-days at risk in it, whoever left or was last seen inside it. Each month's rate is shrunk
towards the agency's overall rate by `PRIOR_CHURNS` pseudo-churns at that rate, so a month with few customers
reads as the agency's average rather than as 0 or as one unlucky churn; tenures past the last month with data
(`MAX_MONTHS`) share one pooled rate. A customer can also come under observation late (`entered`, delayed entry):
when an agency's record of ended contracts starts after some of its customers signed, the tenure those customers
had lived through by then is not exposure, since an end in it could not have been recorded; counting it would
make early tenures look safer than they are (the customers who ended then are simply missing). The probability
served is P(the contract ends within the next t days |
a customer for u days).

Below `MIN_CUSTOMERS` customers or `MIN_CHURNS` churns an agency's own table says too little; it gets
`prior()`, a flat hazard of `PRIOR_YEARLY_CHURN` a year: an assumption, stated as such (`fitted_on: prior`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

MONTH_DAYS = 30.0
MAX_MONTHS = 36          # tenures beyond three years share one rate: few agencies see many customers that old
PRIOR_CHURNS = 2.0       # pseudo-churns at the agency's overall rate added to every month of tenure
MIN_CUSTOMERS = 20
MIN_CHURNS = 3
PRIOR_YEARLY_CHURN = 0.10   # the stated prior: one contract in ten ends within a year, whatever its tenure
HORIZON_DAYS = 90.0
TENURE_COLUMN = "days_as_customer"   # the account feature (marts.account_features and its live form) scored on


def tenure_of(frame: pl.DataFrame) -> np.ndarray:
    """Each account row's tenure in days (a missing one reads as a new customer)."""
    if TENURE_COLUMN not in frame.columns:
        return np.zeros(frame.height)
    return frame[TENURE_COLUMN].cast(pl.Float64).fill_nan(None).fill_null(0.0).to_numpy()


def _durations(days, churned, entered) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    days = np.asarray(days, dtype=np.float64)
    churned = np.asarray(churned, dtype=bool)
    entered = np.zeros_like(days) if entered is None else np.asarray(entered, dtype=np.float64)
    if days.shape != churned.shape or days.shape != entered.shape:
        raise ValueError("tenure days, churned flags and entry days must have the same length")
    if np.any(~np.isfinite(days)) or np.any(days < 0):
        raise ValueError("tenures must be finite days >= 0 (customer_since to churned_at, or to now)")
    if np.any(~np.isfinite(entered)) or np.any(entered < 0) or np.any(entered > days):
        raise ValueError("entry tenures must be finite days between 0 and the customer's tenure")
    return days, churned, entered


@dataclass(frozen=True)
class TenureSurvival:
    rates: tuple[float, ...]    # daily churn hazard in each 30-day month of tenure; the last one holds for ever after
    fitted_on: str              # "own" (the agency's life table) | "prior" (the stated flat hazard)
    customers: int = 0
    churns: int = 0

    @classmethod
    def prior(cls, customers: int = 0, churns: int = 0) -> TenureSurvival:
        return cls((float(-np.log1p(-PRIOR_YEARLY_CHURN) / 365.0),), "prior", customers, churns)

    @classmethod
    def fit(cls, days, churned, entered=None, prior_churns: float = PRIOR_CHURNS) -> TenureSurvival:
        """The life table of these tenures (days), whether each ended in churn (False: still a customer) and the
        tenure at which each came under observation (None: at signing)."""
        days, churned, entered = _durations(days, churned, entered)
        customers, churns = int(days.size), int(churned.sum())
        if customers < MIN_CUSTOMERS or churns < MIN_CHURNS:
            return cls.prior(customers, churns)
        months = int(min(MAX_MONTHS, max(1, np.ceil(days.max() / MONTH_DAYS))))
        starts = np.arange(months) * MONTH_DAYS
        ends = np.append(starts[1:], np.inf)
        # customer-days at risk in each month: from entry to churn or to now
        exposure = np.clip(days[:, None], starts, ends) - np.clip(entered[:, None], starts, ends)
        ended_in = np.minimum((days[churned] // MONTH_DAYS).astype(int), months - 1)
        events = np.bincount(ended_in, minlength=months).astype(np.float64)
        at_risk = exposure.sum(axis=0)
        overall = churns / at_risk.sum()
        pseudo_days = prior_churns / overall
        rates = (events + prior_churns) / (at_risk + pseudo_days)
        return cls(tuple(float(r) for r in rates), "own", customers, churns)

    def cumulative_hazard(self, tenure) -> np.ndarray:
        """H(u) = the integral of the hazard from 0 to u days of tenure."""
        u = np.maximum(np.asarray(tenure, dtype=np.float64), 0.0)
        rates = np.asarray(self.rates)
        starts = np.arange(rates.size) * MONTH_DAYS
        ends = np.append(starts[1:], np.inf)
        inside = np.clip(u[..., None], starts, ends) - starts
        return inside @ rates

    def p_churn(self, tenure, horizon: float = HORIZON_DAYS) -> np.ndarray:
        """P(the contract ends within `horizon` days | still a customer after `tenure` days)."""
        u = np.maximum(np.asarray(tenure, dtype=np.float64), 0.0)
        return -np.expm1(-(self.cumulative_hazard(u + horizon) - self.cumulative_hazard(u)))

    def survival(self, tenure) -> np.ndarray:
        """P(still a customer after `tenure` days)."""
        return np.exp(-self.cumulative_hazard(tenure))

    # -- (de)serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"kind": "survival", "rates": list(self.rates), "month_days": MONTH_DAYS, "fitted_on": self.fitted_on,
                "customers": self.customers, "churns": self.churns}

    @classmethod
    def from_dict(cls, data: dict) -> TenureSurvival:
        if data.get("kind") != "survival":
            raise ValueError(f"not a tenure survival model: kind {data.get('kind')!r}")
        return cls(tuple(float(r) for r in data["rates"]), str(data["fitted_on"]), int(data.get("customers", 0)),
                   int(data.get("churns", 0)))

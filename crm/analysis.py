"""The statistics behind the analyst notebooks, as plain pandas/numpy functions so they are tested once.

Win rates, cohort conversion with right-censoring, Kaplan-Meier survival with Greenwood bands,
calibration and lift tables for a probability score, and the population stability index between two
scoring runs. Inputs are the frames `crm.marts.read_mart` returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def win_rates(deals: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """Closed deals (won or lost) grouped by `by`: counts, win rate, won amount and median sales cycle."""
    closed = deals[deals["deal_status"].isin(["won", "lost"])].copy()
    closed["is_won"] = closed["deal_status"].eq("won")
    closed["won_amount"] = closed["amount"].where(closed["is_won"], 0.0)
    keys = [by] if isinstance(by, str) else list(by)
    out = closed.groupby(keys, dropna=False).agg(
        closed=("deal_id", "size"), won=("is_won", "sum"), won_amount=("won_amount", "sum"),
        median_cycle_days=("age_days", "median"))
    out["win_rate"] = out["won"] / out["closed"]
    return out.sort_values(["win_rate", "closed"], ascending=False).reset_index()


def cohort_conversion(contacts: pd.DataFrame, deals: pd.DataFrame, as_of: pd.Timestamp,
                      horizons: Sequence[int] = (30, 90, 180), freq: str = "Q") -> pd.DataFrame:
    """Share of each creation cohort whose first won deal closed within h days of the contact's creation.

    A cohort whose youngest contact is under h days old at `as_of` has not had h days to convert: its
    share for h is NaN (right-censored), never an undercount.
    """
    first_won = (deals[deals["deal_status"].eq("won") & deals["contact_id"].notna()]
                 .groupby("contact_id")["closed_at"].min())
    frame = contacts[["contact_id", "created_at"]].copy()
    frame["first_won_at"] = frame["contact_id"].map(first_won)
    days = (frame["first_won_at"] - frame["created_at"]).dt.total_seconds() / 86400
    frame["cohort"] = frame["created_at"].dt.to_period(freq).astype(str)
    rows = []
    for cohort, part in frame.groupby("cohort"):
        row = {"cohort": cohort, "contacts": len(part)}
        youngest = (as_of - part["created_at"].max()).total_seconds() / 86400
        for h in horizons:
            within = days.loc[part.index].le(h)  # NaN (never won) compares False
            row[f"converted_{h}d"] = float(within.mean()) if youngest >= h else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def kaplan_meier(durations: Sequence[float], events: Sequence[bool],
                 entry: Sequence[float] | None = None) -> pd.DataFrame:
    """Kaplan-Meier estimate: one row per distinct event/censoring time, with 95% Greenwood bands.

    S(t) = prod over event times t_i <= t of (1 - d_i / n_i); n_i counts who are at risk at t_i: entered
    at or before t_i and not yet gone before it (censored at t_i still count, the usual convention).
    `entry` (delayed entry, left truncation) is when each subject came under observation: a customer
    who started before the CRM's history did is only at risk from the day the history begins, or the
    customers who left before that day, and are missing, would make survival look better than it is.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    start = np.zeros_like(t) if entry is None else np.asarray(entry, dtype=float)
    if t.shape != e.shape or t.shape != start.shape:
        raise ValueError("durations, events and entry must have the same length")
    if len(t) == 0:
        return pd.DataFrame(columns=["time", "at_risk", "events", "censored", "survival", "lower", "upper"])
    if np.isnan(t).any() or (t < 0).any() or np.isnan(start).any() or (start > t).any():
        raise ValueError("durations must be non-negative numbers, each at or after its entry")
    times = np.unique(t)
    at_risk = np.array([((t >= x) & (start <= x)).sum() for x in times])
    d = np.array([((t == x) & e).sum() for x in times])
    c = np.array([((t == x) & ~e).sum() for x in times])
    survival = np.cumprod(1.0 - d / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(at_risk > d, d / (at_risk * (at_risk - d)), 0.0))
        se = survival * np.sqrt(greenwood)
    return pd.DataFrame({"time": times, "at_risk": at_risk, "events": d, "censored": c, "survival": survival,
                         "lower": np.clip(survival - 1.96 * se, 0, 1), "upper": np.clip(survival + 1.96 * se, 0, 1)})


def survival_at(table: pd.DataFrame, time: float) -> float:
    """S(time) read off a kaplan_meier table (a step function: the last step at or before `time`)."""
    steps = table[table["time"] <= time]
    return 1.0 if steps.empty else float(steps["survival"].iloc[-1])


def median_survival(table: pd.DataFrame) -> float:
    """First time S(t) reaches 0.5 or below; NaN when it never does (fewer than half churned)."""
    below = table[table["survival"] <= 0.5]
    return float(below["time"].iloc[0]) if not below.empty else float("nan")


def calibration_table(y: Sequence[int], p: Sequence[float], bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed rate per probability bin (equal-count bins: scores bunch at low values)."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    k = max(1, min(bins, frame["p"].nunique()))
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), k, labels=False)
    out = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), count=("y", "size"))
    return out.reset_index()


def lift_table(y: Sequence[int], p: Sequence[float], groups: int = 10) -> pd.DataFrame:
    """Rank by score, cut into `groups` equal groups (1 = highest scores): rate, lift and cumulative capture."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    frame = frame.sort_values("p", ascending=False, kind="stable").reset_index(drop=True)
    k = max(1, min(groups, len(frame)))
    frame["group"] = np.arange(len(frame)) * k // len(frame) + 1
    out = frame.groupby("group").agg(count=("y", "size"), positives=("y", "sum"), mean_predicted=("p", "mean"))
    base = frame["y"].mean()
    out["rate"] = out["positives"] / out["count"]
    out["lift"] = out["rate"] / base if base > 0 else np.nan
    total = frame["y"].sum()
    out["cumulative_capture"] = out["positives"].cumsum() / total if total > 0 else np.nan
    out["cumulative_share"] = out["count"].cumsum() / len(frame)
    return out.reset_index()


def psi(expected: Sequence[float], actual: Sequence[float], bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of `actual` against `expected`, over the deciles of `expected` (quantile
    bins adapt to scores that bunch at a few values; tied cut points merge). Rule of thumb: < 0.1 stable,
    0.1-0.25 moderate shift, > 0.25 a shift to act on."""
    e_values, a_values = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if len(e_values) == 0 or len(a_values) == 0:
        raise ValueError("psi needs at least one value on each side")
    cuts = np.unique(np.quantile(e_values, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(cuts, e_values, side="right"), minlength=len(cuts) + 1) / len(e_values)
    a = np.bincount(np.searchsorted(cuts, a_values, side="right"), minlength=len(cuts) + 1) / len(a_values)
    e, a = np.maximum(e, eps), np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))

"""Fitting contractual churn's fallback (`crm.tenure_survival.TenureSurvival`) on one agency's customers.

Every company that became a customer (`customer_since`) before the instant counts, whether it is still one or
not: a contract that ended (`churned_at` before the instant) is a churn at its tenure, every other is censored
at its tenure then. An agency's record of ended contracts starts with its first recorded end: a customer that
signed before then is observed from then on (delayed entry, `TenureSurvival.fit`'s `entered`), since an end
before it would not have been recorded (the demo, and an agency that imported only its current book, have no
ended contract before their history). The same read serves now (the fit that scores) and each past month-end
(the fit the choice compares with the learned model: only contracts known to have ended by then count as ended).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.tenure_survival import HORIZON_DAYS, TENURE_COLUMN, TenureSurvival, tenure_of

_TENURES = text("select customer_since, churned_at from companies "
                "where tenant_id = app_tenant_id() and customer_since is not null")
_SCHEMA = {"customer_since": pl.Date, "churned_at": pl.Datetime("us", "UTC")}


def read_tenures(session: Session) -> pl.DataFrame:
    """The session tenant's customers: customer_since (date) and churned_at (null while a customer)."""
    rows = session.execute(_TENURES).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=_SCHEMA, orient="row")


def tenures_at(tenures: pl.DataFrame, as_of_at: dt.datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days from customer_since to churn or to `as_of_at`, churned by then, days from customer_since to the first
    recorded end) of those who were customers by then; the last is 0 for those who signed after it."""
    as_of_at = as_of_at if as_of_at.tzinfo else as_of_at.replace(tzinfo=dt.UTC)
    start = pl.col("customer_since").cast(pl.Datetime("us", "UTC"))
    ended = pl.col("churned_at").is_not_null() & (pl.col("churned_at") < as_of_at)
    until = pl.when(ended).then(pl.col("churned_at")).otherwise(pl.lit(as_of_at))
    known = tenures.filter(start < as_of_at).with_columns(ended.alias("churned"))
    first_end = known.filter(pl.col("churned"))["churned_at"].min()
    observed_from = pl.lit(first_end if first_end is not None else as_of_at).cast(pl.Datetime("us", "UTC"))
    days = ((until - start).dt.total_seconds() / 86_400.0).clip(lower_bound=0.0)
    entered = ((observed_from - start).dt.total_seconds() / 86_400.0).clip(lower_bound=0.0)
    if first_end is None:   # no end recorded yet: nothing to learn the start of the record from
        entered = pl.lit(0.0)
    out = known.select(days.alias("days"), "churned", entered.alias("entered")).with_columns(
        pl.min_horizontal("entered", "days").alias("entered"))
    return out["days"].to_numpy(), out["churned"].to_numpy(), out["entered"].to_numpy()


def fit_survival(tenures: pl.DataFrame, as_of_at: dt.datetime) -> TenureSurvival:
    return TenureSurvival.fit(*tenures_at(tenures, as_of_at))


def survival_params(model: TenureSurvival, now_frame: pl.DataFrame) -> dict[str, Any]:
    """What the fallback stores: the table, and the typical current customer's tenure its reasons compare with."""
    tenure = tenure_of(now_frame)
    typical = float(np.median(tenure)) if tenure.size else 0.0
    return {"model": model.to_dict(), "typical": {TENURE_COLUMN: typical}, "customers": model.customers,
            "churns": model.churns, "fitted_on": model.fitted_on, "horizon_days": HORIZON_DAYS}


def month_end_instant(day: dt.date) -> dt.datetime:
    """A month-end row's as_of_at: the end of its as_of_date (int_as_of_dates)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

"""BG/NBD quantities as account features of the learned churn model: one definition for training and scoring.

They are not dbt columns: each needs a BG/NBD fitted by maximum likelihood on one agency's customers at one
instant. Training fits it per agency and month-end on that month-end's rows (`at_month_ends`: what was known
then, label-free, so no leakage); scoring takes the fit the per-agency choice (models_ml.choice) stored in
`tenant_models.params` from the agency's current histories (`model_of`). Only purchase (activity-mode) churn is
a purchase process: contractual agencies' rows, rows without an order, and agencies with no fit (too few
customers or repeat buyers: `BgNbd.fit`'s own rule, the same in both places) get NaN, which LightGBM reads
as missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from crm.btyd import FEATURE_COLUMNS as HISTORY_COLUMNS
from crm.btyd import HORIZON_DAYS, BgNbd, histories_of

P_ALIVE = "bgnbd_p_alive"
P_NO_ORDER = "bgnbd_p_no_order_90d"
EXPECTED_ORDERS = "bgnbd_expected_orders_90d"
COLUMNS = (P_ALIVE, P_NO_ORDER, EXPECTED_ORDERS)
PURCHASE_MODE = "activity"   # the churn mode whose accounts are buyers (tenants.churn_mode)


def _purchase_rows(frame: pl.DataFrame) -> np.ndarray:
    """Rows that can carry values: activity-mode accounts (a frame without `churn_mode` is one agency's, and
    the caller decided) whose feature row has the order-history columns."""
    if not all(c in frame.columns for c in HISTORY_COLUMNS):
        return np.zeros(frame.height, dtype=bool)
    if "churn_mode" not in frame.columns:
        return np.ones(frame.height, dtype=bool)
    return (frame["churn_mode"].cast(pl.Utf8) == PURCHASE_MODE).fill_null(False).to_numpy()


def fit_on(frame: pl.DataFrame) -> BgNbd | None:
    """BG/NBD fitted on the histories of the frame's activity-mode customers who have ordered; None when
    there are too few of them (or of repeat buyers) to fit."""
    rows = _purchase_rows(frame)
    if not rows.any():
        return None
    x, t_x, T, has = histories_of(frame.filter(pl.Series(rows)))
    try:
        return BgNbd.fit(x[has], t_x[has], T[has])
    except ValueError:
        return None


def model_of(params: dict[str, Any] | None) -> BgNbd | None:
    """The BG/NBD an agency's `tenant_models` params hold (None: contractual, or too few customers to fit)."""
    stored = (params or {}).get("model")
    if not stored or stored.get("kind") != "bg_nbd":
        return None
    return BgNbd.from_dict(stored)


def quantities(frame: pl.DataFrame, model: BgNbd | None) -> pl.DataFrame:
    """The feature columns for the frame's rows under `model` (NaN where it does not apply), row for row."""
    values = {name: np.full(frame.height, np.nan) for name in COLUMNS}
    rows = _purchase_rows(frame)
    if model is not None and rows.any():
        x, t_x, T, has = histories_of(frame)
        use = rows & has
        if use.any():
            x, t_x, T = x[use], t_x[use], T[use]
            values[P_ALIVE][use] = model.p_alive(x, t_x, T)
            values[P_NO_ORDER][use] = model.p_no_purchase(HORIZON_DAYS, x, t_x, T)
            values[EXPECTED_ORDERS][use] = model.expected_purchases(HORIZON_DAYS, x, t_x, T)
    return pl.DataFrame(values, schema={name: pl.Float64 for name in COLUMNS})


def with_quantities(frame: pl.DataFrame, model: BgNbd | None) -> pl.DataFrame:
    """The frame with the feature columns under one agency's `model` (existing ones replaced)."""
    return frame.drop([c for c in COLUMNS if c in frame.columns]).hstack(quantities(frame, model))


def at_month_ends(frame: pl.DataFrame) -> pl.DataFrame:
    """Mart rows (any agencies and month-ends) with the feature columns, each (agency, month-end) under a
    BG/NBD fitted on that month-end's rows of that agency only; row order kept."""
    base = frame.drop([c for c in COLUMNS if c in frame.columns])
    if frame.is_empty() or not _purchase_rows(frame).any():
        return base.hstack(quantities(frame, None))
    indexed = base.with_row_index("_row")
    parts = [part.select("_row").hstack(quantities(part, fit_on(part)))
             for _, part in indexed.group_by(["tenant_id", "as_of_date"], maintain_order=True)]
    return indexed.join(pl.concat(parts), on="_row", how="left").sort("_row").drop("_row")

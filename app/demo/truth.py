"""Ground truth at every month-end: the true 90-day probabilities and the labels the CRM rows realize.

Conventions (the data platform's label SQL must use the same):
- `as_of_date` is a whole UTC day: what happened on it is known at as_of; the label window is the
  next 90 days, i.e. event date (UTC) in (as_of_date, as_of_date + 90 days].
- A lead at as_of: a contact created on or before as_of with no won deal of its own (deals.contact_id)
  closed by then. Only a company's buyer ever has deals, so the buyer's colleagues stay leads with
  p = 0 even after their company became a customer (dbt's int_leads_labeled counts them the same way).
  converted_90d: a deal with that contact_id is won with closed_at's date in the window.
- An account at as_of: customer_since <= as_of and
    contractual tenants: churned_at is null or its date is after as_of; churned_90d: churned_at in window;
    activity tenants: at least one 'order' activity dated in (as_of - 90 days, as_of];
    churned_90d: no 'order' activity of the company dated in the window.
- Labels whose window runs past the end of the history are null (not yet observable); the
  probabilities are still given.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from app.demo.accounts import p_churn_contractual, p_no_order
from app.demo.ids import month_ends
from app.demo.leads import HORIZON, p_win_within
from app.demo.world import World


def _as_of_days(w: World) -> list[tuple[date, int]]:
    end = date.fromordinal(w.start.toordinal() + w.days - 1)
    return [(m, (m - w.start).days) for m in month_ends(w.start, end)]


def lead_truth(w: World) -> pl.DataFrame:
    ct = w.ct
    cols: dict[str, list] = {"contact": [], "as_of": [], "p": [], "label": []}
    for m, a in _as_of_days(w):
        own_win = np.where(ct.is_buyer, w.customer_start[ct.company], np.iinfo(np.int64).max)
        sel = np.flatnonzero((ct.created_day <= a) & (own_win > a))
        comp = ct.company[sel]
        p = np.zeros(len(sel))
        b = ct.is_buyer[sel]
        p[b] = p_win_within(w.latent, comp[b], np.full(int(b.sum()), a), w.chain[comp[b], a].astype(int))
        won = w.customer_start[comp]
        label = b & (won > a) & (won <= a + HORIZON)
        cols["contact"].append(sel)
        cols["as_of"].append(np.full(len(sel), np.datetime64(m)))
        cols["p"].append(p)
        cols["label"].append(np.where(a + HORIZON <= w.days - 1, label, None))
    return pl.DataFrame({
        "contact_id": w.contact_ids[np.concatenate(cols["contact"])],
        "as_of_date": np.concatenate(cols["as_of"]).astype("datetime64[D]"),
        "p_convert_90d": np.concatenate(cols["p"]),
        "converted_90d": pl.Series(np.concatenate(cols["label"]).tolist(), dtype=pl.Boolean),
    })


def account_truth(w: World) -> pl.DataFrame:
    acc = w.acc
    mode = w.ag.churn_mode
    out: dict[str, list] = {"row": [], "as_of": [], "p": [], "label": []}
    for m, a in _as_of_days(w):
        if mode == "contractual":
            sel = np.flatnonzero((acc.since <= a) & (acc.churn_day > a))
            at = np.full(len(sel), a)
            p = p_churn_contractual(acc, sel, at)
            label = acc.churn_day[sel] <= a + HORIZON
        else:
            recent = acc.orders[:, max(a - HORIZON + 1, 0): a + 1].sum(1) > 0
            sel = np.flatnonzero((acc.since <= a) & recent)
            at = np.full(len(sel), a)
            p = p_no_order(acc, sel, at)
            label = acc.orders[sel, a + 1: a + HORIZON + 1].sum(1) == 0
        out["row"].append(sel)
        out["as_of"].append(np.full(len(sel), np.datetime64(m)))
        out["p"].append(p)
        out["label"].append(np.where(a + HORIZON <= w.days - 1, label, None))
    rows = np.concatenate(out["row"])
    return pl.DataFrame({
        "company_id": w.company_ids[acc.company[rows]],
        "as_of_date": np.concatenate(out["as_of"]).astype("datetime64[D]"),
        "churn_mode": [mode] * len(rows),
        "p_churn_90d": np.concatenate(out["p"]),
        "churned_90d": pl.Series(np.concatenate(out["label"]).tolist(), dtype=pl.Boolean),
    })


def fact_truth(w: World, rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame({
        "entity_type": ["company"] * len(rows),
        "entity_id": [w.company_ids[r[0]] for r in rows],
        "source_type": [r[1] for r in rows], "source_id": [str(r[2]) for r in rows],
        "fact_type": [r[3] for r in rows], "value": [r[4] for r in rows], "question": [r[5] for r in rows],
    }, schema={"entity_type": pl.String, "entity_id": pl.String, "source_type": pl.String,
               "source_id": pl.String, "fact_type": pl.String, "value": pl.String, "question": pl.String})

"""One agency's simulated world before it becomes rows: the latent processes and their realized paths."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from app.demo.accounts import NEVER, Accounts
from app.demo.agency import Agency
from app.demo.ids import instants, uuids
from app.demo.leads import LeadLatent
from app.demo.people import Companies, Contacts


@dataclass
class World:
    rng: np.random.Generator
    start: date
    days: int  # history length; day index days-1 is end_date
    ag: Agency
    co: Companies
    ct: Contacts
    latent: LeadLatent  # per company (its buyer), intent curve over days + 91
    chain: np.ndarray  # (companies, days) lead-chain state; -1 before the company exists
    customer_start: np.ndarray  # per company: first customer day, NEVER if it never becomes one
    buyer: np.ndarray  # per company: contact index of its buyer
    acc: Accounts
    account_of: np.ndarray  # per company: row in acc, or -1
    company_ids: np.ndarray = field(default=None)
    contact_ids: np.ndarray = field(default=None)
    deal_ids: np.ndarray = field(default=None)
    open_deal: np.ndarray = field(default=None)  # (companies, days) index of the open deal, -1 if none
    deal_service: list[str] = field(default_factory=list)

    activity_scale: float = 1.0

    def contact_intent(self) -> np.ndarray:
        """(contacts, days): buyers carry the company's intent, colleagues a damped copy of it."""
        i = self.latent.intent[self.ct.company, : self.days]
        return np.where(self.ct.is_buyer[:, None], i, 0.6 * i - 0.4)

    def prospect_mask(self) -> np.ndarray:
        """(contacts, days): the contact exists and its company is not (yet) a customer."""
        d = np.arange(self.days)[None, :]
        return (d >= self.ct.created_day[:, None]) & (d < self.customer_start[self.ct.company][:, None])

    def churn_day_of(self, company: np.ndarray) -> np.ndarray:
        rows = self.account_of[company]
        return np.where(rows >= 0, self.acc.churn_day[np.maximum(rows, 0)], NEVER)


class Rows:
    """Accumulates one table's rows as numpy column chunks; `frame` maps indices to ids."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **cols) -> None:
        n = len(next(iter(cols.values())))
        self.parts.append({k: (np.asarray(v) if not np.isscalar(v) and v is not None else np.full(n, v, object))
                           for k, v in cols.items()})

    def column(self, name: str, default=None) -> np.ndarray:
        out = []
        for p in self.parts:
            n = len(next(iter(p.values())))
            out.append(p[name] if name in p else np.full(n, default, dtype=object))
        return np.concatenate(out) if out else np.array([], dtype=object)

    def __len__(self) -> int:
        return sum(len(next(iter(p.values()))) for p in self.parts)


def take_ids(ids: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """ids[idx] with -1 meaning no reference (NULL)."""
    idx = np.asarray(idx, dtype=np.int64)
    padded = np.append(ids.astype(object), None)
    return strings(padded[np.where(idx >= 0, idx, len(ids))])


def strings(values) -> pl.Series:
    """A polars String column from a numpy object array of str/None."""
    return pl.Series(values.tolist() if isinstance(values, np.ndarray) else list(values), dtype=pl.String)


def props(keys: tuple[str, ...], *values) -> list[str]:
    """JSON objects, one per row, from parallel value arrays."""
    plain = [v.tolist() if isinstance(v, np.ndarray) else list(v) for v in values]
    return [json.dumps(dict(zip(keys, row, strict=True))) for row in zip(*plain, strict=True)]


def activity_frame(w: World, acts: Rows) -> pl.DataFrame:
    day = acts.column("day").astype(np.int64)
    sec = acts.column("sec").astype(float)
    day, sec = day + (sec // 86400).astype(np.int64), sec % 86400
    keep = day < w.days
    at = instants(w.start, day[keep], sec[keep])

    def col(name):
        return acts.column(name)[keep]

    campaign_ids = w.ag.campaigns["id"].to_numpy()
    frame = pl.DataFrame({
        "id": col("id").astype(str),
        "type": col("type").astype(str),
        "occurred_at": at,
        "contact_id": take_ids(w.contact_ids, col("contact").astype(np.int64)),
        "company_id": take_ids(w.company_ids, col("company").astype(np.int64)),
        "deal_id": take_ids(w.deal_ids, col("deal").astype(np.int64)),
        "campaign_id": take_ids(campaign_ids, acts.column("campaign", -1)[keep].astype(np.int64)),
        "subject": strings(col("subject")),
        "body": strings(col("body")),
        "properties": strings(acts.column("properties", "{}")[keep]),
        "source": col("source").astype(str),
        # orders carry their value in the amount / currency columns too (the properties keep it as well)
        "amount": strings([None if v is None else f"{v:.2f}" for v in acts.column("amount")[keep]]),
        "currency": strings(acts.column("currency")[keep]),
    }, schema_overrides={"subject": pl.String, "body": pl.String, "properties": pl.String,
                         "contact_id": pl.String, "company_id": pl.String, "deal_id": pl.String,
                         "campaign_id": pl.String, "amount": pl.String, "currency": pl.String})
    frame = frame.with_columns(pl.col("occurred_at").dt.replace_time_zone("UTC"))
    return frame.with_columns(created_at=pl.col("occurred_at")).sort("occurred_at", "id")


def new_ids(w: World, n: int) -> np.ndarray:
    return uuids(w.rng, n)

"""Deals and their stage history, read off the lead chain (new business) and the account process (upsell).

A new-business deal opens when a buyer's chain enters S1, moves with it through S2 and S3, and closes
won (W) or lost (back to C). Customers from before the history get the won deal that made them
customers. Healthy customers open upsell deals in the "Account growth" pipeline.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from app.demo import vocab
from app.demo.accounts import NEVER
from app.demo.agency import LOST, S1, S2, S3, WON
from app.demo.emit_leads import poisson_events, sigmoid
from app.demo.ids import instants, uuids, work_seconds
from app.demo.leads import S1 as CS1
from app.demo.leads import C, W
from app.demo.world import World, take_ids

ROLE_OF_STATE = {CS1: S1, CS1 + 1: S2, CS1 + 2: S3}
LOST_P = np.array([0.22, 0.16, 0.14, 0.12, 0.1, 0.1, 0.08, 0.08])  # over vocab.LOST_REASONS


class DealBook:
    def __init__(self) -> None:
        self.deals: list[dict] = []
        self.history: list[tuple[int, str | None, str, int]] = []  # (deal, from_stage, to_stage, day)

    def open(self, company: int, contact: int, day: int, pipeline: str, stage: str, amount: float, name: str) -> int:
        self.deals.append(dict(company=company, contact=contact, day=day, pipeline=pipeline, stage=stage,
                               amount=round(float(amount), 2), name=name, status="open", closed=None, reason=None))
        self.history.append((len(self.deals) - 1, None, stage, day))
        return len(self.deals) - 1

    def move(self, k: int, stage: str, day: int, status: str = "open", reason: str | None = None) -> None:
        d = self.deals[k]
        self.history.append((k, d["stage"], stage, day))
        d["stage"] = stage
        if status != "open":
            d["status"], d["closed"], d["reason"] = status, day, reason


def build_deals(w: World) -> DealBook:
    rng, co, ag = w.rng, w.co, w.ag
    book = DealBook()
    sid, uid = ag.stage_id, ag.upsell_stage_id
    first = np.where(co.created_day < 0, 0, -1)[:, None]
    prev = np.concatenate([first, w.chain[:, :-1]], axis=1)
    changed = (prev >= 0) & (w.chain != prev) & (co.pre_customer_since >= 0)[:, None]
    current = -np.ones(co.n, dtype=int)
    w.open_deal = -np.ones((co.n, w.days), dtype=np.int32)
    for c, d in zip(*np.nonzero(changed), strict=True):
        to = w.chain[c, d]
        if to == CS1:
            name = f"{co.name[c]} - {co.service[c]}"
            current[c] = book.open(c, w.buyer[c], d, ag.new_business_id, sid[S1], co.monthly_value[c] * 12, name)
        elif to in ROLE_OF_STATE:
            book.move(current[c], sid[ROLE_OF_STATE[to]], d)
        elif to == W:
            book.move(current[c], sid[WON], d, "won")
        elif to == C:
            reason = vocab.LOST_REASONS[rng.choice(len(LOST_P), p=LOST_P)]
            book.move(current[c], sid[LOST], d, "lost", reason)
    for k, deal in enumerate(book.deals):
        end = deal["closed"] if deal["closed"] is not None else w.days
        w.open_deal[deal["company"], deal["day"]:end] = k

    # Customers from before the history won their deal before it too.
    for c in np.flatnonzero(co.pre_customer_since < 0):
        won = int(co.pre_customer_since[c])
        opened = won - int(rng.integers(30, 100))
        k = book.open(c, w.buyer[c], opened, ag.new_business_id, sid[S1], co.monthly_value[c] * 12,
                      f"{co.name[c]} - {co.service[c]}")
        for role, frac in ((S2, 0.35), (S3, 0.7)):
            book.move(k, sid[role], opened + int((won - opened) * frac))
        book.move(k, sid[WON], won, "won")

    _upsell(w, book, uid)
    w.deal_ids = uuids(rng, len(book.deals))
    return book


def _upsell(w: World, book: DealBook, uid: dict[str, str]) -> None:
    rng, acc, co = w.rng, w.acc, w.co
    t = np.arange(w.days)[None, :]
    alive = (t >= np.maximum(acc.since, 0)[:, None]) & (t < acc.churn_day[:, None])
    health = acc.health[:, : w.days]
    r, d = poisson_events(rng, np.exp(-7.0 + 0.8 * health), alive)
    for row, day in zip(r, d, strict=True):
        c = acc.company[row]
        service = vocab.SERVICES[int(rng.integers(len(vocab.SERVICES)))]
        k = book.open(c, w.buyer[c], day, w.ag.upsell_id, uid["s1"], co.monthly_value[c] * rng.uniform(2.4, 7.2),
                      f"{co.name[c]} - {service} (expansion)")
        close = day + int(rng.integers(14, 60))
        if close // 2 + day // 2 < w.days:
            book.move(k, uid["s2"], close // 2 + day // 2)
        churn = acc.churn_day[row] if w.ag.churn_mode == "contractual" else NEVER
        if churn <= close and churn < w.days:
            book.move(k, uid[LOST], int(churn), "lost", "client churned")
        elif close < w.days:
            won = rng.random() < sigmoid(-0.5 + 1.2 * health[row, day])
            book.move(k, uid[WON if won else LOST], close, "won" if won else "lost",
                      None if won else str(rng.choice(vocab.LOST_REASONS[:5])))


def deal_frames(w: World, book: DealBook, owner_ids: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng, ds = w.rng, book.deals
    n = len(ds)
    day = np.array([d["day"] for d in ds], dtype=np.int64)
    closed = np.array([d["closed"] if d["closed"] is not None else -10**9 for d in ds], dtype=np.int64)
    company = np.array([d["company"] for d in ds], dtype=np.int64)
    created = instants(w.start, day, work_seconds(rng, n))
    close_at = instants(w.start, np.maximum(closed, day), work_seconds(rng, n))
    close_at = np.maximum(close_at, created + np.timedelta64(1, "h"))
    deals = pl.DataFrame({
        "id": w.deal_ids, "name": [d["name"] for d in ds],
        "company_id": take_ids(w.company_ids, company),
        "contact_id": take_ids(w.contact_ids, np.array([d["contact"] for d in ds], dtype=np.int64)),
        "pipeline_id": [d["pipeline"] for d in ds], "stage_id": [d["stage"] for d in ds],
        "amount": [d["amount"] for d in ds], "currency": ["USD"] * n,
        "expected_close_date": [(np.datetime64(w.start) + np.timedelta64(int(x) + 60, "D")).item() for x in day],
        "status": [d["status"] for d in ds],
        "closed_at": np.where(closed > -10**9, close_at, np.datetime64("NaT")),
        "lost_reason": [d["reason"] for d in ds],
        "owner_id": take_ids(owner_ids, w.co.owner[company]),
        "created_at": created,
    }, schema_overrides={"lost_reason": pl.String})
    h = book.history
    k = np.array([x[0] for x in h], dtype=np.int64)
    hday = np.array([x[3] for x in h], dtype=np.int64)
    # Opening and closing moves share the deal's own timestamps; the others fall in working hours.
    at = instants(w.start, hday, work_seconds(rng, len(h)))
    at = np.where(hday == day[k], created[k], np.where(hday == closed[k], close_at[k], at))
    history = pl.DataFrame({
        "id": uuids(rng, len(h)), "deal_id": w.deal_ids[k], "from_stage_id": [x[1] for x in h],
        "to_stage_id": [x[2] for x in h], "changed_at": at, "created_at": at,
    }, schema_overrides={"from_stage_id": pl.String})
    utc = [pl.col(c).dt.replace_time_zone("UTC") for c in ("created_at", "closed_at")]
    hist_utc = [pl.col(c).dt.replace_time_zone("UTC") for c in ("changed_at", "created_at")]
    return deals.with_columns(utc), history.with_columns(hist_utc)

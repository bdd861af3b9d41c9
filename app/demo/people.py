"""Prospect and customer companies of one agency, their contacts, and the latent traits behind them.

Each company has exactly one buyer (the contact whose deals can convert the company) and 0-3 other
contacts who read emails and visit the site but never open a deal. Latent traits live on the company
and drive its buyer: fit (how well it matches the agency's niche), budget, and intent (a baseline plus
an optional "buying window", a bump in time during which the company is actively looking).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from app.demo import vocab
from app.demo.agency import ACQUISITION_CHANNELS, Agency

SIZE_P = np.array([0.3, 0.35, 0.2, 0.1, 0.05])
PRE_CUSTOMER_SHARE = 0.12  # companies that are already customers when the history starts


@dataclass
class Companies:
    n: int
    name: np.ndarray
    domain: np.ndarray
    industry: np.ndarray
    size: np.ndarray  # index into vocab.COMPANY_SIZES
    owner: np.ndarray  # rep index
    created_day: np.ndarray
    pre_customer_since: np.ndarray  # day (< 0) for customers before the history, else a large number
    fit: np.ndarray
    budget: np.ndarray
    intent_base: np.ndarray
    window_day: np.ndarray  # centre of the buying window (day index; may lie outside the history)
    window_amp: np.ndarray  # 0 = no buying window
    window_width: np.ndarray
    service: np.ndarray
    competitor: np.ndarray
    objection: np.ndarray
    budget_text: np.ndarray
    monthly_value: np.ndarray


@dataclass
class Contacts:
    n: int
    company: np.ndarray  # company index
    is_buyer: np.ndarray
    first: np.ndarray
    last: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    title: np.ndarray
    lead_source: np.ndarray
    campaign: np.ndarray  # acquisition campaign index or -1
    created_day: np.ndarray
    owner: np.ndarray


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _money(v: float, yearly: bool) -> str:
    return f"${v * 12 / 1000:,.0f}k a year" if yearly else f"${v:,.0f} per month"


def make_companies(rng: np.random.Generator, ag: Agency, days: int, n_reps: int) -> tuple[Companies, np.ndarray]:
    """Companies and, per company, how many contacts it has (buyer first)."""
    per = np.minimum(1 + rng.poisson(0.35, size=int(ag.n_contacts / 1.35) + 8), 4)
    per = per[: int(np.searchsorted(np.cumsum(per), ag.n_contacts)) + 1]
    n = len(per)
    ind_idx = rng.choice(len(ag.industries), n, p=ag.industry_weights)
    industry = np.array(ag.industries)[ind_idx]
    stems = rng.choice(vocab.COMPANY_STEMS, n)
    kinds = [vocab.INDUSTRIES[i][int(k)] for i, k in zip(industry, rng.integers(0, 6, n), strict=True)]
    seen: dict[str, int] = {}
    names = []
    for s, k in zip(stems, kinds, strict=True):
        base = f"{s} {k}"
        seen[base] = seen.get(base, 0) + 1
        k = seen[base] - 2  # a second company of the same name is told apart by its city
        names.append(base if k < 0 else f"{base} {vocab.CITIES[k % len(vocab.CITIES)]}"
                     + (f" {k // len(vocab.CITIES) + 2}" if k >= len(vocab.CITIES) else ""))
    size = rng.choice(5, n, p=SIZE_P)
    focus = ag.industry_weights[ind_idx] > 1.5 / len(ag.industries)
    fit = rng.normal(0, 1, n) + 0.6 * focus - 0.25 * np.abs(size - 1.5)
    budget = rng.normal(0, 1, n) + 0.45 * (size - 1.3)

    pre = rng.random(n) < PRE_CUSTOMER_SHARE
    pre_since = np.where(pre, -rng.integers(30, 900, n), 10**6)
    old = rng.random(n) < 0.2
    created = np.where(old, -rng.integers(1, 540, n), (rng.random(n) ** 0.85 * (days - 1)).astype(int))
    created = np.where(pre, pre_since - rng.integers(20, 200, n), created)

    amp = np.where(rng.random(n) < 0.75, rng.gamma(2.0, 0.85, n), 0.0)
    window = np.maximum(created, 0) + rng.exponential(160, n).astype(int) - 10
    service = rng.choice(vocab.SERVICES, n)
    monthly = np.array([vocab.SERVICE_PRICE[s] for s in service]) * np.exp(0.3 * budget + rng.normal(0, 0.2, n))
    monthly = np.maximum(np.round(monthly / 250) * 250, 500)
    yearly = rng.random(n) < 0.35
    return Companies(
        n=n, name=np.array(names), domain=np.array([f"{_slug(x)}.example" for x in names]), industry=industry,
        size=size, owner=rng.integers(0, n_reps, n), created_day=created, pre_customer_since=pre_since,
        fit=fit, budget=budget, intent_base=rng.normal(-0.35, 0.55, n) + 0.25 * fit, window_day=window,
        window_amp=amp, window_width=rng.uniform(15, 60, n), service=service,
        competitor=rng.choice(vocab.COMPETITORS, n), objection=rng.choice(vocab.OBJECTIONS, n),
        budget_text=np.array([_money(v, y) for v, y in zip(monthly, yearly, strict=True)]),
        monthly_value=monthly,
    ), per


def make_contacts(rng: np.random.Generator, ag: Agency, co: Companies, per: np.ndarray, days: int) -> Contacts:
    company = np.repeat(np.arange(co.n), per)
    rank = np.arange(len(company)) - np.repeat(np.cumsum(per) - per, per)
    buyer = rank == 0
    created = co.created_day[company] + np.where(buyer, 0, rng.exponential(60, len(company)).astype(int))
    keep = created <= days - 1
    company, rank, buyer, created = company[keep], rank[keep], buyer[keep], created[keep]
    n = len(company)
    first = rng.choice(vocab.FIRST_NAMES, n)
    last = rng.choice(vocab.LAST_NAMES, n)
    local = np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last))
    local = np.where(rank > 0, np.char.add(local, rank.astype(str)), local)
    email = np.char.add(np.char.add(local, "@"), co.domain[company])
    title = np.where(buyer, rng.choice(vocab.TITLES_BUYER, n), rng.choice(vocab.TITLES_OTHER, n))
    phone = [f"+1 555 {a:03d} {b:04d}" for a, b in zip(rng.integers(100, 999, n), rng.integers(0, 9999, n),
                                                         strict=True)]
    # A contact created while an acquisition campaign ran came from it half of the time.
    acq = np.isin(ag.campaign_channel, ACQUISITION_CHANNELS)
    running = (ag.campaign_start[None, :] <= created[:, None]) & (created[:, None] <= ag.campaign_end[None, :])
    running &= acq[None, :]
    has = running.any(1) & (rng.random(n) < 0.5)
    pick = np.argmax(running * rng.random(running.shape), axis=1)
    campaign = np.where(has, pick, -1)
    source_map = {"paid_search": "paid_search", "paid_social": "paid_social", "events": "event",
                  "webinar": "webinar", "referral": "referral", "content": "content_download",
                  "organic_social": "website"}
    src = rng.choice(vocab.LEAD_SOURCES, n, p=[0.25, 0.12, 0.12, 0.1, 0.06, 0.07, 0.14, 0.09, 0.05])
    src = np.where(has, np.array([source_map.get(c, "website") for c in ag.campaign_channel[pick]]), src)
    return Contacts(n=n, company=company, is_buyer=buyer, first=first, last=last, email=email,
                    phone=np.array(phone), title=title, lead_source=src, campaign=campaign, created_day=created,
                    owner=co.owner[company])


SOURCE_INTENT = {"referral": 0.45, "partner": 0.3, "webinar": 0.15, "event": 0.1, "cold_outreach": -0.3,
                 "content_download": -0.15}


def source_intent(contacts: Contacts, n_companies: int) -> np.ndarray:
    """Intent shift per company from how its buyer arrived (referrals are warm, cold outreach is not)."""
    shift = np.zeros(n_companies)
    b = contacts.is_buyer
    shift[contacts.company[b]] = [SOURCE_INTENT.get(s, 0.0) for s in contacts.lead_source[b]]
    return shift

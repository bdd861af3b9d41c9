"""One agency (tenant): its name, niche, people, pipelines with stages, and marketing campaigns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from app.demo import vocab
from app.demo.ids import instants, uuids, work_seconds

# Stage roles in the new-business pipeline; the lead process moves between them.
S1, S2, S3, WON, LOST = "s1", "s2", "s3", "won", "lost"
STAGE_NAMES = {
    S1: ("Discovery", "Qualified", "Intro meeting"),
    S2: ("Proposal", "Pitch", "Scoping"),
    S3: ("Negotiation", "Contract sent", "Verbal yes"),
    WON: ("Closed won", "Won", "Signed"),
    LOST: ("Closed lost", "Lost", "Not a fit"),
}
EMAIL_CHANNELS = ("email", "content", "webinar")
ACQUISITION_CHANNELS = ("paid_search", "paid_social", "events", "webinar", "referral", "content", "organic_social")


def agency_names(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct agency names for one load."""
    combos = [f"{a} {b}" for a in vocab.AGENCY_FIRST for b in vocab.AGENCY_SECOND]
    picked = rng.permutation(len(combos))
    names = [combos[i] for i in picked[: min(n, len(combos))]]
    names += [f"{combos[picked[i % len(combos)]]} {i // len(combos) + 1}" for i in range(len(names), n)]
    return names


def agency_domain(name: str, seed: int, tag: str) -> str:
    """Email domain of an agency's staff; seed and shape in it keep different demo loads apart."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"{slug}-{seed}{tag}.example.com"


@dataclass
class Agency:
    name: str
    domain: str  # email domain of its people; carries the seed and shape so loads never collide
    churn_mode: str
    industries: list[str]
    industry_weights: np.ndarray
    n_contacts: int
    users: pl.DataFrame  # reps and an analyst (the admin comes from create_tenant)
    pipelines: pl.DataFrame
    stages: pl.DataFrame
    stage_id: dict[str, str]  # new-business stage role -> id
    upsell_stage_id: dict[str, str]
    new_business_id: str
    upsell_id: str
    campaigns: pl.DataFrame
    campaign_start: np.ndarray  # day index
    campaign_end: np.ndarray
    campaign_channel: np.ndarray
    campaign_theme: np.ndarray
    rep_names: list[str]

    @property
    def admin_email(self) -> str:
        return f"admin@{self.domain}"


def make_agency(rng: np.random.Generator, name: str, index: int, tag: str, seed: int, n_contacts: int,
                start: date, days: int, password_hash: str) -> Agency:
    domain = agency_domain(name, seed, tag)
    churn_mode = "activity" if index % 3 == 1 else "contractual"
    names = list(vocab.INDUSTRIES)
    focus = rng.choice(len(names), size=3, replace=False)
    weights = np.full(len(names), 0.15)
    weights[focus] += rng.dirichlet(np.ones(3)) * 6
    weights /= weights.sum()

    n_reps = int(np.clip(2 + n_contacts // 300, 2, 8))
    firsts = rng.choice(vocab.FIRST_NAMES, n_reps + 1, replace=False)
    lasts = rng.choice(vocab.LAST_NAMES, n_reps + 1, replace=False)
    people = [f"{f} {la}" for f, la in zip(firsts, lasts, strict=True)]
    user_ids = uuids(rng, n_reps + 1)
    joined = rng.integers(-400, -30, n_reps + 1)
    users = pl.DataFrame({
        "id": user_ids,
        "email": [f"{f.lower()}.{la.lower()}@{domain}" for f, la in zip(firsts, lasts, strict=True)],
        "name": people,
        "password_hash": [password_hash] * (n_reps + 1),
        "role": ["member"] * n_reps + ["read-only"],
        "created_at": instants(start, joined, work_seconds(rng, n_reps + 1)),
    })

    pipe_ids = uuids(rng, 2)
    born = instants(start, np.array([-420, -200]), work_seconds(rng, 2))
    pipelines = pl.DataFrame({"id": pipe_ids, "name": ["New business", "Account growth"],
                              "is_default": [True, False], "created_at": born})
    roles = [S1, S2, S3, WON, LOST]
    probs = [rng.uniform(0.1, 0.2), rng.uniform(0.3, 0.4), rng.uniform(0.6, 0.75), 1.0, 0.0]
    up_roles = [("s1", "Opportunity", 0.3), ("s2", "Proposal", 0.6), (WON, "Won", 1.0), (LOST, "Lost", 0.0)]
    ids = uuids(rng, len(roles) + len(up_roles))
    stages = pl.DataFrame({
        "id": ids,
        "pipeline_id": [pipe_ids[0]] * len(roles) + [pipe_ids[1]] * len(up_roles),
        "name": [STAGE_NAMES[r][int(rng.integers(3))] for r in roles] + [n for _, n, _ in up_roles],
        "position": list(range(1, len(roles) + 1)) + list(range(1, len(up_roles) + 1)),
        "win_probability": [round(p, 3) for p in probs] + [p for *_, p in up_roles],
        "is_won": [r == WON for r in roles] + [r == WON for r, *_ in up_roles],
        "is_lost": [r == LOST for r in roles] + [r == LOST for r, *_ in up_roles],
        "created_at": np.concatenate([np.repeat(born[:1], len(roles)), np.repeat(born[1:], len(up_roles))]),
    })

    n_camp = int(np.clip(6 + n_contacts // 120, 6, 30))
    channel = rng.choice(["email", "email", "content", "webinar", "paid_search", "paid_social", "events",
                          "referral", "organic_social"], n_camp)
    theme = rng.choice(vocab.CAMPAIGN_THEMES, n_camp)
    c_start = np.sort(rng.integers(-60, days - 20, n_camp))
    c_end = c_start + rng.integers(30, 120, n_camp)
    end_day = days - 1
    status = np.where(c_end < end_day, "completed", np.where(c_start > end_day, "draft", "active"))
    status = np.where((status == "active") & (rng.random(n_camp) < 0.15), "paused", status)
    budget = np.round(rng.lognormal(np.log(4000), 0.6, n_camp), -2)
    campaigns = pl.DataFrame({
        "id": uuids(rng, n_camp),
        "name": [f"{t} ({c.replace('_', ' ')})" for t, c in zip(theme, channel, strict=True)],
        "channel": channel, "status": status, "budget": budget,
        "starts_on": [start + np.timedelta64(int(d), "D").item() for d in c_start],
        "ends_on": [start + np.timedelta64(int(d), "D").item() for d in c_end],
        "created_at": instants(start, c_start - rng.integers(7, 30, n_camp), work_seconds(rng, n_camp)),
    })
    return Agency(
        name=name, domain=domain, churn_mode=churn_mode, industries=names, industry_weights=weights,
        n_contacts=n_contacts, users=users, pipelines=pipelines, stages=stages,
        stage_id=dict(zip(roles, ids[: len(roles)], strict=True)),
        upsell_stage_id={r: i for (r, *_), i in zip(up_roles, ids[len(roles):], strict=True)},
        new_business_id=pipe_ids[0], upsell_id=pipe_ids[1], campaigns=campaigns, campaign_start=c_start,
        campaign_end=c_end, campaign_channel=channel, campaign_theme=theme, rep_names=people[:n_reps],
    )

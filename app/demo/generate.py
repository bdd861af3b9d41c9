"""Generate one agency's CRM tables and ground truth: pure, deterministic for (seed, spec, index, end_date)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from app.demo import truth
from app.demo.accounts import NEVER, make_accounts
from app.demo.agency import Agency, make_agency
from app.demo.deals import build_deals, deal_frames
from app.demo.emit_accounts import emit_accounts, emit_campaigns
from app.demo.emit_leads import FactLog, emit_leads
from app.demo.ids import history_window, instants, uuids, work_seconds
from app.demo.leads import HORIZON, S1, S3, LeadLatent, W, intent_curves, simulate
from app.demo.people import make_companies, make_contacts, source_intent
from app.demo.spec import DemoSpec
from app.demo.vocab import COMPANY_SIZES
from app.demo.world import Rows, World, activity_frame, take_ids

# Load order: parents before children (foreign keys are checked row by row during COPY).
TABLES = ("users", "companies", "contacts", "pipelines", "pipeline_stages", "deals", "deal_stage_history",
          "campaigns", "campaign_members", "activities", "notes", "tasks")


@dataclass
class TenantData:
    agency: Agency
    tables: dict[str, pl.DataFrame]  # without tenant_id (added at load, once the tenant exists)
    leads: pl.DataFrame
    accounts: pl.DataFrame
    facts: pl.DataFrame

    @property
    def rows(self) -> int:
        return sum(len(f) for f in self.tables.values())


def tenant_rng(seed: int, spec: DemoSpec, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(spec.tag.encode()), index)))


def contacts_per_tenant(seed: int, spec: DemoSpec) -> list[int]:
    """Agencies differ in size: lognormal shares of the total, at least 40 contacts each."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(spec.tag.encode()),)))
    share = rng.lognormal(0, 0.5, spec.tenants)
    return [max(40, int(x)) for x in np.round(share / share.sum() * spec.contacts)]


def build_world(rng: np.random.Generator, ag: Agency, start: date, days: int, scale: float) -> World:
    n_reps = len(ag.rep_names)
    co, per = make_companies(rng, ag, days, n_reps)
    ct = make_contacts(rng, ag, co, per, days)
    n_days = days + HORIZON + 1
    intent = intent_curves(co.intent_base + source_intent(ct, co.n), co.window_day, co.window_amp,
                           co.window_width, co.created_day, n_days)
    latent = LeadLatent(co.fit, co.budget, intent)
    pre = co.pre_customer_since < 0
    chain = np.full((co.n, days), W, dtype=np.int8)
    prospects = np.flatnonzero(~pre)
    chain[prospects] = simulate(rng, latent.take(prospects), co.created_day[prospects], days)
    won = (chain == W).any(1)
    customer_start = np.where(pre, co.pre_customer_since, np.where(won, (chain == W).argmax(1), NEVER))
    buyer = np.full(co.n, -1)
    buyer[ct.company[ct.is_buyer]] = np.flatnonzero(ct.is_buyer)
    customers = np.flatnonzero(customer_start < days)
    acc = make_accounts(rng, customers, customer_start[customers], co.fit[customers], ag.churn_mode, days, n_days)
    account_of = np.full(co.n, -1)
    account_of[customers] = np.arange(len(customers))
    return World(rng=rng, start=start, days=days, ag=ag, co=co, ct=ct, latent=latent, chain=chain,
                 customer_start=customer_start, buyer=buyer, acc=acc, account_of=account_of,
                 company_ids=uuids(rng, co.n), contact_ids=uuids(rng, ct.n), activity_scale=scale)


def generate_tenant(seed: int, spec: DemoSpec, index: int, name: str, n_contacts: int, end_date: date,
                    password_hash: str) -> TenantData:
    rng = tenant_rng(seed, spec, index)
    start, days = history_window(end_date, spec.months)
    ag = make_agency(rng, name, index, spec.tag, seed, n_contacts, start, days, password_hash)
    w = build_world(rng, ag, start, days, spec.activity_scale)
    book = build_deals(w)
    acts, notes, tasks, members = Rows(), Rows(), Rows(), Rows()
    facts = FactLog(w)
    emit_leads(w, acts, notes, tasks, facts)
    emit_accounts(w, acts, notes, facts)
    emit_campaigns(w, acts, members)

    owner_ids = ag.users["id"].to_numpy()
    activities = activity_frame(w, acts)
    tables = {
        "users": ag.users.with_columns(pl.col("created_at").dt.replace_time_zone("UTC")),
        "companies": _companies(w, owner_ids),
        "contacts": _contacts(w, owner_ids, activities),
        "pipelines": _utc(ag.pipelines),
        "pipeline_stages": _utc(ag.stages),
    }
    tables["deals"], tables["deal_stage_history"] = deal_frames(w, book, owner_ids)
    tables["campaigns"] = _utc(ag.campaigns)
    tables["campaign_members"] = _members(w, members)
    tables["activities"] = activities
    tables["notes"] = _notes(w, notes, owner_ids)
    tables["tasks"] = _tasks(w, tasks, owner_ids)
    fact_frame = truth.fact_truth(w, facts.rows)
    known = pl.concat([activities.select("id"), tables["notes"].select("id")])
    fact_frame = fact_frame.filter(pl.col("source_id").is_in(known["id"].implode()))
    return TenantData(ag, {t: tables[t] for t in TABLES}, truth.lead_truth(w), truth.account_truth(w), fact_frame)


def _utc(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("created_at").dt.replace_time_zone("UTC"))


def _at(w: World, day: np.ndarray, sec: np.ndarray) -> np.ndarray:
    return instants(w.start, day, sec)


def _companies(w: World, owner_ids: np.ndarray) -> pl.DataFrame:
    co, days = w.co, w.days
    since = w.customer_start
    churn = w.churn_day_of(np.arange(co.n))
    contractual = w.ag.churn_mode == "contractual"
    churned = contractual & (churn < days)
    lifecycle = np.where(since < days, np.where(churned, "churned", "customer"), "prospect")
    base = np.datetime64(w.start)
    return _utc(pl.DataFrame({
        "id": w.company_ids, "name": co.name, "domain": co.domain, "industry": co.industry,
        "size": np.array(COMPANY_SIZES)[co.size], "lifecycle": lifecycle,
        "owner_id": take_ids(owner_ids, co.owner),
        "customer_since": [(base + np.timedelta64(int(s), "D")).item() if s < days else None for s in since],
        "churned_at": pl.Series(np.where(churned, _at(w, np.where(churned, churn, 0), np.full(co.n, 15 * 3600.0)),
                                         np.datetime64("NaT")), dtype=pl.Datetime("us")),
        "created_at": _at(w, co.created_day, work_seconds(w.rng, co.n)),
    }, schema_overrides={"customer_since": pl.Date})).with_columns(
        pl.col("churned_at").dt.replace_time_zone("UTC"))


def _contacts(w: World, owner_ids: np.ndarray, activities: pl.DataFrame) -> pl.DataFrame:
    ct, days = w.ct, w.days
    counts = (activities.filter(pl.col("type").is_in(["meeting", "form_submit"]))
              .group_by("contact_id", "type").len())
    met = set(counts.filter(pl.col("type") == "meeting")["contact_id"].to_list())
    filled = set(counts.filter(pl.col("type") == "form_submit")["contact_id"].to_list())
    since = w.customer_start[ct.company]
    churned = (w.ag.churn_mode == "contractual") & (w.churn_day_of(ct.company) < days)
    last = w.chain[ct.company, days - 1]
    stage = []
    for i, cid in enumerate(w.contact_ids):
        if since[i] < days:
            stage.append("other" if churned[i] else "customer")
        elif ct.is_buyer[i] and S1 <= last[i] <= S3:
            stage.append("opportunity")
        elif cid in met:
            stage.append("sql")
        elif cid in filled:
            stage.append("mql")
        else:
            stage.append("subscriber" if ct.lead_source[i] == "content_download" else "lead")
    return _utc(pl.DataFrame({
        "id": w.contact_ids, "company_id": w.company_ids[ct.company], "first_name": ct.first, "last_name": ct.last,
        "email": ct.email, "phone": ct.phone, "title": ct.title, "lead_source": ct.lead_source,
        "lifecycle_stage": stage, "owner_id": take_ids(owner_ids, ct.owner),
        "created_at": _at(w, ct.created_day, work_seconds(w.rng, ct.n)),
    }))


def _members(w: World, m: Rows) -> pl.DataFrame:
    day = m.column("day").astype(np.int64)
    at = _at(w, day, work_seconds(w.rng, len(day)))
    return pl.DataFrame({
        "id": m.column("id").astype(str),
        "campaign_id": w.ag.campaigns["id"].to_numpy()[m.column("campaign").astype(int)],
        "contact_id": w.contact_ids[m.column("contact").astype(int)], "status": m.column("status").astype(str),
        "added_at": at, "created_at": at,
    }).with_columns(pl.col("added_at", "created_at").dt.replace_time_zone("UTC"))


def _notes(w: World, n: Rows, owner_ids: np.ndarray) -> pl.DataFrame:
    day = n.column("day").astype(np.int64)
    keep = day < w.days
    at = _at(w, day[keep], np.minimum(n.column("sec").astype(float)[keep], 86_399))
    return pl.DataFrame({
        "id": n.column("id")[keep].astype(str), "body": n.column("body")[keep].astype(str),
        "contact_id": take_ids(w.contact_ids, n.column("contact")[keep].astype(np.int64)),
        "company_id": take_ids(w.company_ids, n.column("company")[keep].astype(np.int64)),
        "deal_id": take_ids(w.deal_ids, n.column("deal")[keep].astype(np.int64)),
        "author_id": take_ids(owner_ids, n.column("author")[keep].astype(np.int64)),
        "occurred_at": at, "created_at": at,
    }, schema_overrides={"deal_id": pl.String}).with_columns(
        pl.col("occurred_at", "created_at").dt.replace_time_zone("UTC"))


def _tasks(w: World, t: Rows, owner_ids: np.ndarray) -> pl.DataFrame:
    rng = w.rng
    day = t.column("day").astype(np.int64)
    keep = day < w.days
    day, due = day[keep], t.column("due").astype(np.int64)[keep]
    n = len(day)
    done = (due < w.days - 1) & (rng.random(n) < 0.85)
    done_day = np.minimum(day + rng.integers(0, np.maximum(due - day, 0) + 3), w.days - 1)
    created = _at(w, day, np.minimum(t.column("sec").astype(float)[keep], 86_399))
    done_at = np.maximum(_at(w, done_day, work_seconds(rng, n)), created + np.timedelta64(10, "m"))
    return pl.DataFrame({
        "id": t.column("id")[keep].astype(str), "title": t.column("title")[keep].astype(str),
        "description": t.column("description")[keep].astype(str),
        "due_at": _at(w, due, np.full(n, 17 * 3600.0)), "is_done": done,
        "done_at": pl.Series(np.where(done, done_at, np.datetime64("NaT")), dtype=pl.Datetime("us")),
        "assignee_id": take_ids(owner_ids, t.column("assignee")[keep].astype(np.int64)),
        "contact_id": take_ids(w.contact_ids, t.column("contact")[keep].astype(np.int64)),
        "company_id": take_ids(w.company_ids, t.column("company")[keep].astype(np.int64)),
        "deal_id": take_ids(w.deal_ids, t.column("deal")[keep].astype(np.int64)),
        "created_at": created,
    }, schema_overrides={"deal_id": pl.String}).with_columns(
        pl.col("due_at", "done_at", "created_at").dt.replace_time_zone("UTC"))



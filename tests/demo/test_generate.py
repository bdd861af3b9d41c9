"""The generator on its own (no database): determinism, realistic rates, text, and ground truth that the
CRM rows themselves realize."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from app.demo.generate import TABLES, TenantData, generate_tenant
from app.demo.spec import DemoSpec

END = date(2026, 6, 30)
TINY = DemoSpec(tenants=2, contacts=300, name="tiny-test")
RATES = DemoSpec(tenants=2, contacts=2400, name="rates-test")


def _gen(spec: DemoSpec, index: int, seed: int = 11, n: int = 150) -> TenantData:
    return generate_tenant(seed, spec, index, f"Test Agency {index}", n, END, "not-a-real-hash")


@pytest.fixture(scope="module")
def worlds() -> list[TenantData]:
    """One contractual and one activity-churn agency, big enough for rates to mean something."""
    return [_gen(RATES, 0, n=1200), _gen(RATES, 1, n=1200)]


def test_same_seed_same_rows_and_ids():
    a, b = _gen(TINY, 0), _gen(TINY, 0)
    for t in TABLES:
        assert a.tables[t].equals(b.tables[t]), t
    assert a.leads.equals(b.leads) and a.accounts.equals(b.accounts) and a.facts.equals(b.facts)
    other = _gen(TINY, 0, seed=12)
    assert not set(a.tables["contacts"]["id"]) & set(other.tables["contacts"]["id"])
    assert not other.tables["activities"].equals(a.tables["activities"])


def test_every_table_is_filled_with_historical_timestamps(worlds):
    for w in worlds:
        for t in TABLES:
            assert len(w.tables[t]) > 0, t
        acts = w.tables["activities"]
        assert set(acts["type"].unique()) == {"email_sent", "email_opened", "email_clicked", "email_replied", "call",
                                              "meeting", "web_visit", "form_submit", "order", "support_ticket"}
        first = acts["occurred_at"].min().date()
        assert first <= END - timedelta(days=700) and acts["occurred_at"].max().date() <= END
        assert (acts["created_at"] == acts["occurred_at"]).all()
        contacts = w.tables["contacts"]["created_at"].dt.date()
        assert contacts.min() < END - timedelta(days=600) and contacts.n_unique() > len(contacts) // 3


def test_pipelines_have_won_and_lost_stages_and_deals_close_properly(worlds):
    w = worlds[0]
    stages = w.tables["pipeline_stages"]
    for _, group in stages.group_by("pipeline_id"):
        assert group["is_won"].sum() == 1 and group["is_lost"].sum() == 1
        assert group["win_probability"].is_between(0, 1).all()
    deals = w.tables["deals"]
    won, lost = deals.filter(pl.col("status") == "won"), deals.filter(pl.col("status") == "lost")
    assert won["closed_at"].is_not_null().all() and won["lost_reason"].is_null().all()
    assert lost["closed_at"].is_not_null().all() and lost["lost_reason"].is_not_null().all()
    assert (deals["closed_at"].drop_nulls() > deals.filter(pl.col("closed_at").is_not_null())["created_at"]).all()
    history = w.tables["deal_stage_history"]
    assert set(history["deal_id"]) == set(deals["id"])
    win_rate = len(won) / (len(won) + len(lost))
    assert 0.15 < win_rate < 0.6


def test_text_is_present_and_varied(worlds):
    w = worlds[0]
    notes = w.tables["notes"]["body"]
    assert notes.str.len_chars().min() > 20 and notes.n_unique() > 0.6 * len(notes)
    acts = w.tables["activities"]
    emails = acts.filter(pl.col("type").str.starts_with("email_"))
    assert emails["subject"].is_not_null().all() and emails["body"].is_not_null().all()
    talks = acts.filter(pl.col("type").is_in(["call", "meeting"]))
    assert talks["body"].is_not_null().all() and talks["body"].n_unique() > 0.6 * len(talks)
    pages = acts.filter(pl.col("type") == "web_visit")["properties"].str.json_path_match("$.page")
    assert pages.is_not_null().all() and "/pricing" in set(pages)


def test_planted_facts_are_in_the_text_they_point_to(worlds):
    for w in worlds:
        facts = w.facts
        assert set(facts["fact_type"]) >= {"competitor", "budget", "objection", "next_step", "product_interest"}
        texts = pl.concat([w.tables[t].select("id", text="body", day=pl.col(at).dt.date().cast(pl.String))
                           for t, at in (("activities", "occurred_at"), ("notes", "occurred_at"))])
        joined = facts.join(texts, left_on="source_id", right_on="id", how="left")
        assert joined["text"].is_not_null().all()
        assert all(v in t for v, t in zip(joined["value"], joined["text"], strict=True))
        steps = joined.filter(pl.col("fact_type") == "next_step")
        assert len(steps) > 0 and all(d in q for d, q in zip(steps["day"], steps["question"], strict=True))
        assert set(facts["entity_id"]) <= set(w.tables["companies"]["id"])
        assert facts["question"].str.contains(r"\?$").all()


def _as_of_windows(as_of: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    return as_of, as_of + pl.duration(days=90)


def test_lead_labels_are_realized_by_the_deals(worlds):
    """converted_90d recomputed from the deal rows alone equals the ground truth's label."""
    for w in worlds:
        won = (w.tables["deals"].filter((pl.col("status") == "won") & pl.col("contact_id").is_not_null())
               .group_by("contact_id").agg(first_won=pl.col("closed_at").min().dt.date()))
        truth = w.leads.drop_nulls("converted_90d").join(won, on="contact_id", how="left")
        lo, hi = _as_of_windows(pl.col("as_of_date"))
        recomputed = (pl.col("first_won") > lo) & (pl.col("first_won") <= hi)
        check = truth.with_columns(r=recomputed.fill_null(False))
        assert (check["r"] == check["converted_90d"]).all()
        # and a lead is never someone whose own deal was already won
        assert check.filter(pl.col("first_won") <= pl.col("as_of_date")).is_empty()
        assert set(w.leads["contact_id"]) <= set(w.tables["contacts"]["id"])


def test_account_labels_are_realized_by_churn_dates_or_orders(worlds):
    contractual, activity = worlds
    companies = contractual.tables["companies"].select("id", "churned_at", "customer_since")
    t = contractual.accounts.drop_nulls("churned_90d").join(companies, left_on="company_id", right_on="id")
    lo, hi = _as_of_windows(pl.col("as_of_date"))
    churn = pl.col("churned_at").dt.date()
    t = t.with_columns(r=((churn > lo) & (churn <= hi)).fill_null(False))
    assert (t["r"] == t["churned_90d"]).all()
    assert (t["customer_since"] <= t["as_of_date"]).all()

    orders = (activity.tables["activities"].filter(pl.col("type") == "order")
              .select("company_id", day=pl.col("occurred_at").dt.date()))
    a = activity.accounts.drop_nulls("churned_90d")
    hits = (a.join(orders, on="company_id", how="left")
            .with_columns(in_window=(pl.col("day") > lo) & (pl.col("day") <= hi))
            .group_by("company_id", "as_of_date").agg(pl.col("in_window").any(), pl.col("churned_90d").first()))
    assert (hits["in_window"].fill_null(False) == ~hits["churned_90d"]).all()
    assert activity.tables["companies"]["churned_at"].is_null().all()


def test_rates_are_realistic_and_probabilities_calibrated(worlds):
    for w in worlds:
        leads = w.leads.drop_nulls("converted_90d")
        rate = leads["converted_90d"].mean()
        assert 0.02 <= rate <= 0.15, rate
        accounts = w.accounts.drop_nulls("churned_90d")
        churn = accounts["churned_90d"].mean()
        assert 0.03 <= churn <= 0.3, churn  # 90 days: a few percent a month
        for frame, p, y in ((leads, "p_convert_90d", "converted_90d"), (accounts, "p_churn_90d", "churned_90d")):
            se = np.sqrt((frame[p] * (1 - frame[p])).sum()) / len(frame)
            assert abs(frame[p].mean() - frame[y].mean()) < 4 * se + 0.005, (p, frame[p].mean(), frame[y].mean())
            # the true probability ranks outcomes far better than chance
            pos, neg = frame.filter(pl.col(y))[p].mean(), frame.filter(~pl.col(y))[p].mean()
            assert pos > 2 * neg


def test_intent_rises_before_conversion(worlds):
    """Converted buyers were more engaged in the 30 days before the win than 90-120 days before it."""
    w = worlds[0]
    won = w.tables["deals"].filter(pl.col("status") == "won").select("contact_id", won=pl.col("closed_at"))
    acts = w.tables["activities"].filter(pl.col("type").is_in(["web_visit", "email_opened", "email_clicked",
                                                                "form_submit"]))
    j = acts.join(won, on="contact_id").with_columns(before=(pl.col("won") - pl.col("occurred_at")).dt.total_days())
    recent = j.filter(pl.col("before").is_between(0, 29)).height
    earlier = j.filter(pl.col("before").is_between(90, 119)).height
    assert recent > 1.5 * earlier

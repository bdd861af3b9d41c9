"""Per-agency model choice (models_ml.choice.choose_for_tenant) on real frames and a real trained champion: a new
agency with no labelled month-end is scored by its own fallback, an agency with history gets whichever model
ranks its own newest labelled month-ends better, and a contractual agency without a champion gets its tenure life
table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from crm.settings import get_settings
from models_ml.choice import Learned, choose_for_tenant
from models_ml.config import churn_config, lead_config
from models_ml.registry import current_champion, load_version
from models_ml.tracking import use_project_store
from tests import ml_support


@pytest.fixture(scope="module")
def learned_lead() -> Learned:
    ml_support.trained_models(str(get_settings().home))
    version = current_champion(use_project_store(), "lead_score")
    booster, bundle = load_version("lead_score", version)
    return Learned(version, booster, bundle)


def _agency(seed: int, size: int = 400) -> pl.DataFrame:
    return ml_support.lead_frame(tenants=["t"], sizes=(size,), seed=seed)


def test_a_new_agency_without_labelled_history_gets_its_fallback_with_the_reason(learned_lead):
    rows = _agency(3)
    newest = rows.filter(pl.col("as_of_date") == rows["as_of_date"].max()).with_columns(
        pl.lit(None, dtype=pl.Int8).alias("converted_90d"))   # four months old: no label known yet
    chosen = choose_for_tenant("lead", lead_config(), newest, newest, learned_lead, "contractual")
    assert chosen.kind == "engagement" and "cannot be checked" in chosen.reason
    assert chosen.params["fitted_on"] == "prior" and set(chosen.params["tiers"]) == {"A", "B", "C"}
    assert chosen.comparison["rows"] == 0


def test_with_history_the_better_ranker_on_the_agencys_own_rows_wins(learned_lead):
    rows = _agency(5)
    now = rows.filter(pl.col("as_of_date") == rows["as_of_date"].max())
    chosen = choose_for_tenant("lead", lead_config(), now, rows, learned_lead, "contractual")
    comparison = chosen.comparison
    assert comparison["rows"] > 0 and comparison["learned_version"] == learned_lead.version
    ours, theirs = comparison["learned_roc_auc"], comparison["engagement_roc_auc"]
    assert 0.5 < ours <= 1 and 0 < theirs <= 1
    assert chosen.kind == ("engagement" if theirs > ours else "learned")
    assert chosen.params["fitted_on"] == "learned"   # the agency has enough labels of its own


def test_no_champion_means_the_fallback_for_leads_and_for_contractual_churn():
    rows = _agency(7, size=120)
    chosen = choose_for_tenant("lead", lead_config(), rows, rows, None, "contractual")
    assert chosen.kind == "engagement" and "no learned lead_score model yet" in chosen.reason
    assert np.isfinite(chosen.params["model"]["intercept"])
    accounts = ml_support.account_frame(sizes=(80,))
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    signed = [dt.date(2024, 1, 1) + dt.timedelta(days=9 * i) for i in range(60)]
    tenures = pl.DataFrame({"customer_since": signed,
                            "churned_at": [now - dt.timedelta(days=3 * i + 1) if i % 5 == 0 else None
                                           for i in range(60)]},
                           schema={"customer_since": pl.Date, "churned_at": pl.Datetime("us", "UTC")})
    contractual = choose_for_tenant("account", churn_config(), accounts, accounts, None, "contractual", tenures, now)
    assert contractual.kind == "survival" and "the tenure life table fitted on" in contractual.reason
    assert (contractual.params["customers"], contractual.params["churns"]) == (60, 12)
    with pytest.raises(ValueError, match="tenures"):
        choose_for_tenant("account", churn_config(), accounts, accounts, None, "contractual")


def test_an_agency_with_no_leads_yet_gets_the_engagement_prior_not_an_error(learned_lead):
    empty = _agency(9, size=10).clear()
    chosen = choose_for_tenant("lead", lead_config(), empty, empty, learned_lead, "contractual")
    assert chosen.kind == "engagement" and chosen.params["fitted_on"] == "prior" and chosen.params["tiers"] == {}

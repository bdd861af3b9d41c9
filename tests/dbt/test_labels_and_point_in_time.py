"""Labels and features on hand-made rows (see tests/pipelines/factory.py for the world and its dates)."""

from datetime import date

import pytest


def _lead(marts, tenant, contact, as_of):
    cur = marts.execute("select * from marts.lead_features where tenant_id = ? and contact_id = ? and as_of_date = ?",
                        [tenant, contact, as_of])
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def _account(marts, tenant, company, as_of):
    cur = marts.execute("select * from marts.account_features where tenant_id = ? and company_id = ? "
                        "and as_of_date = ?", [tenant, company, as_of])
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def test_lead_label_window_is_as_of_exclusive_to_90_days_inclusive(built, marts):
    t, ids = built["a"], built["ids_a"]
    assert _lead(marts, t, ids["L1"], date(2025, 3, 31))["converted_90d"] == 1  # won 06-29: last day in window
    assert _lead(marts, t, ids["L1"], date(2025, 2, 28))["converted_90d"] == 0  # 06-29 beyond 05-29
    assert _lead(marts, t, ids["L3"], date(2025, 3, 31))["converted_90d"] == 0  # won 06-30 00:00: one day late
    assert _lead(marts, t, ids["L3"], date(2025, 4, 30))["converted_90d"] == 1
    # a customer is no longer a lead; a contact not yet created is not one either
    assert _lead(marts, t, ids["L1"], date(2025, 6, 30)) is None
    assert _lead(marts, t, ids["L2"], date(2025, 3, 31)) is None
    assert _lead(marts, t, ids["L2"], date(2025, 4, 30))["converted_90d"] == 0


def test_labels_are_null_when_the_horizon_runs_past_the_data(built, marts):
    t, ids = built["a"], built["ids_a"]
    assert _lead(marts, t, ids["L2"], date(2025, 9, 30))["converted_90d"] == 0  # 09-30 + 90d = 12-29 <= 12-31
    assert _lead(marts, t, ids["L2"], date(2025, 10, 31))["converted_90d"] is None
    assert _lead(marts, t, ids["L2"], date(2025, 12, 31))["converted_90d"] is None


def test_features_never_see_events_after_as_of(built, marts):
    t, ids = built["a"], built["ids_a"]
    row = _lead(marts, t, ids["L1"], date(2025, 3, 31))
    assert row["emails_replied_7d"] == 1  # 03-31 23:30 counts; 04-01 00:30 does not
    assert row["emails_replied_90d"] == 1
    assert row["emails_sent_30d"] == 1 and row["emails_sent_7d"] == 0
    assert row["pricing_visits_30d"] == 1 and row["high_intent_visits_30d"] == 1
    assert row["email_reply_rate_90d"] == 1.0
    assert row["campaigns_total"] == 1
    assert row["days_since_last_activity"] < 1
    # only the positive note (03-15) is known at 03-31; the angry one (04-10) is not
    assert row["sentiment_mean_90d"] > 0.5
    assert row["negative_texts_90d"] == 0
    later = _lead(marts, t, ids["L1"], date(2025, 4, 30))
    assert later["emails_replied_90d"] == 2
    assert later["negative_texts_90d"] == 1 and later["sentiment_mean_30d"] < 0
    # the open deal reached Proposal on 06-10: at 05-31 it is open at Qualified only
    assert _lead(marts, t, ids["L2"], date(2025, 5, 31))["max_open_stage_probability"] == 0.2
    assert _lead(marts, t, ids["L2"], date(2025, 6, 30))["max_open_stage_probability"] == 0.5


def test_contractual_churn_labels(built, marts):
    t, ids = built["a"], built["ids_a"]
    assert _account(marts, t, ids["C1"], date(2025, 3, 31))["churned_90d"] == 1
    assert _account(marts, t, ids["C1"], date(2025, 1, 31))["churned_90d"] == 0
    assert _account(marts, t, ids["C1"], date(2025, 5, 31)) is None  # churned on 05-15
    assert _account(marts, t, ids["C2"], date(2025, 1, 31)) is None  # customer from 02-10
    c2 = _account(marts, t, ids["C2"], date(2025, 2, 28))
    assert c2["churned_90d"] == 0 and c2["churn_mode"] == "contractual"
    c1 = _account(marts, t, ids["C1"], date(2025, 3, 31))
    assert c1["support_tickets_30d"] == 1 and c1["days_as_customer"] == (date(2025, 3, 31) - date(2024, 6, 1)).days


def test_activity_churn_labels_and_order_features(built, marts):
    t, ids = built["b"], built["ids_b"]
    march = _account(marts, t, ids["D1"], date(2025, 3, 31))
    assert march["churned_90d"] == 1  # no order in (03-31, 06-29]
    assert (march["orders_30d"], march["orders_90d"], march["orders_180d"]) == (1, 2, 2)
    assert march["churn_mode"] == "activity"
    assert _account(marts, t, ids["D1"], date(2025, 4, 30))["churned_90d"] == 0  # order on 07-20
    assert march["is_lapsed"] == 0


def test_lapsed_customers_stay_in_the_activity_population_with_their_history(built, marts):
    t, ids = built["b"], built["ids_b"]
    june = _account(marts, t, ids["D1"], date(2025, 6, 30))  # last order 03-10: lapsed, still an account
    assert june["is_lapsed"] == 1 and june["churned_90d"] == 0  # it comes back on 07-20
    assert june["orders_90d"] == 0 and june["order_days_lifetime"] == 2
    assert june["days_since_last_order"] == pytest.approx((date(2025, 7, 1) - date(2025, 3, 10)).days - 10 / 24)
    assert june["days_since_first_order"] == pytest.approx((date(2025, 7, 1) - date(2025, 1, 15)).days - 10 / 24)
    # both orders are 91-180 days before 07-01
    assert (june["spend_lifetime"], june["spend_90d"], june["spend_prior_90d"]) == (240, 0, 240)
    assert june["avg_order_value"] == 120
    march = _account(marts, t, ids["D1"], date(2025, 3, 31))
    assert (march["spend_90d"], march["spend_prior_90d"], march["order_days_lifetime"]) == (240, 0, 2)
    # one order (01-15) by 01-31
    assert _account(marts, t, ids["D1"], date(2025, 1, 31))["order_days_lifetime"] == 1
    # contractual accounts: never lapsed, spend columns present and zero without orders
    c1 = _account(marts, built["a"], built["ids_a"]["C1"], date(2025, 3, 31))
    assert (c1["is_lapsed"], c1["order_days_lifetime"], c1["spend_lifetime"]) == (0, 0, 0)
    assert c1["days_since_last_order"] is None and c1["avg_order_value"] is None


def test_every_mart_row_belongs_to_a_tenant(built, marts):
    for mart in ("contacts", "companies", "deals", "activities_daily", "pipeline_snapshot", "campaign_performance",
                 "kpis", "lead_features", "account_features", "pipeline_forecast"):
        assert marts.execute(f"select count(*) from marts.{mart} where tenant_id is null").fetchone()[0] == 0


def test_kpis_for_the_hand_made_tenant(built, marts):
    cur = marts.execute("select * from marts.kpis where tenant_id = ?", [built["a"]])
    kpis = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    assert kpis["open_pipeline_value"] == 3000
    assert kpis["weighted_pipeline_value"] == 1500
    assert kpis["customers"] == 1  # C2; C1 churned

"""Reasons read as sentences for the lost-deal, engagement-trend, long-run account and BG/NBD features
(serving.explain)."""

from __future__ import annotations

import pytest

from serving.explain import sentence


@pytest.mark.parametrize(("name", "value", "impact", "expected"), [
    ("days_since_last_lost_deal", 11.4, -9, "Last lost a deal 11 days ago: -9"),
    ("days_since_last_lost_deal", None, 2, "No lost deal: +2"),
    ("lost_deals", 1, -3, "1 lost deal so far: -3"),
    ("lost_deal_amount_avg", 12000.0, 1, "Lost deals were worth $12,000 on average: +1"),
    ("engagement_trend_30d", -3, -2, "-3 replies, visits, forms and meetings in the last 30 days vs the 30 before: -2"),
    ("order_rate_vs_lifetime", 0.42, 6, "Ordering at 42% of its usual rate in the last 90 days: +6"),
    ("support_tickets_per_30d_as_customer", 0.5, 3, "0.5 support tickets per 30 days as a customer: +3"),
    ("lost_deals_180d", 2, 4, "2 deals lost in the last 180 days: +4"),
    ("bgnbd_p_alive", 0.4213, 3, "Still an active buyer with probability 42% (BG/NBD): +3"),
    ("bgnbd_p_no_order_90d", 0.87, 12, "No order in the next 90 days with probability 87% (BG/NBD): +12"),
    ("bgnbd_expected_orders_90d", 2.456, -4, "2.46 orders expected in the next 90 days (BG/NBD): -4"),
    ("bgnbd_p_no_order_90d", None, 0.3, "No purchase-model estimate: +0.3"),
])
def test_hypothesis_feature_reasons(name, value, impact, expected):
    assert sentence(name, value, impact) == expected

"""Reasons read as sentences for the order-history, spend and lapsed features (serving.explain)."""

from __future__ import annotations

import pytest

from serving.explain import sentence


@pytest.mark.parametrize(("name", "value", "impact", "expected"), [
    ("days_since_last_order", 120.4, 31, "Last order 120 days ago: +31"),
    ("days_since_last_order", None, 5, "No order yet: +5"),
    ("order_days_lifetime", 1, -3, "Ordered on 1 day in all: -3"),
    ("spend_90d", 1250.5, 2, "Spent 1,250.5 in the last 90 days: +2"),
    ("avg_order_value", None, 0.4, "No priced order yet: +0.4"),
    ("is_lapsed", 1, 20, "Lapsed: no order in the last 90 days: +20"),
    ("is_lapsed", 0, -4, "Ordered in the last 90 days: -4"),
])
def test_order_and_spend_reasons(name, value, impact, expected):
    assert sentence(name, value, impact) == expected

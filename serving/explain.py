"""Feature contributions turned into sentences a marketer reads: "Replied to 3 emails in the last 30 days: +12".

Known mart columns have hand-written templates; any other column gets a generic wording from its name
(`<thing>_<N>d` -> "<Thing> in the last N days"), so a new feature is explained the day it appears.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

# (regex on the feature name, template); {v} value, {s} plural "s", {n} days from the name, {pct} value as %.
WINDOWED = {
    "emails_replied": "Replied to {v} email{s}", "emails_opened": "Opened {v} email{s}",
    "emails_clicked": "Clicked through {v} email{s}", "emails_sent": "Was sent {v} email{s}",
    "web_visits": "Visited the website {v} time{s}", "pricing_visits": "Viewed the pricing page {v} time{s}",
    "high_intent_visits": "Viewed high-intent pages (pricing, demo, contact) {v} time{s}",
    "form_submits": "Submitted {v} form{s}", "meetings": "Had {v} meeting{s}", "calls": "Had {v} call{s}",
    "orders": "Placed {v} order{s}", "support_tickets": "Opened {v} support ticket{s}",
    "activities": "{v} recorded activit{ies}", "campaigns": "Reached by {v} campaign{s}",
    "negative_texts": "{v} negative note{s} or email{s}",
}
TEMPLATES: list[tuple[str, str]] = [
    *[(rf"^{k}_(?P<n>\d+)d$", t + " in the last {n} days") for k, t in WINDOWED.items()],
    # the marts look back 180 days (dbt/macros/features.sql): a missing value means none in that window
    (r"^days_since_last_activity$", "Last activity {v} day{s} ago|No activity in the last 180 days"),
    (r"^days_since_last_reply$", "Last replied {v} day{s} ago|No reply in the last 180 days"),
    (r"^days_since_last_order$", "Last order {v} day{s} ago|No order yet"),
    (r"^days_since_first_order$", "First order {v} day{s} ago|No order yet"),
    (r"^order_days_lifetime$", "Ordered on {v} day{s} in all"),
    (r"^spend_lifetime$", "Spent {v} in all"),
    (r"^spend_(?P<n>\d+)d$", "Spent {v} in the last {n} days"),
    (r"^spend_prior_90d$", "Spent {v} in the 90 days before those"),
    (r"^avg_order_value$", "Average order worth {v}|No priced order yet"),
    (r"^days_since_created$", "In the CRM for {v} day{s}"),
    (r"^days_as_customer$", "Customer for {v} day{s}"),
    (r"^email_reply_rate_(?P<n>\d+)d$", "Replied to {pct} of emails in the last {n} days|No emails sent yet"),
    (r"^email_open_rate_(?P<n>\d+)d$", "Opened {pct} of emails in the last {n} days|No emails sent yet"),
    (r"^campaigns_total$", "Reached by {v} campaign{s} in total"),
    (r"^open_deals$", "{v} open deal{s}"),
    (r"^open_deal_amount$", "Open deals worth ${v}"),
    (r"^won_deals$", "{v} won deal{s} so far"),
    (r"^won_amount$", "Won deals worth ${v} so far"),
    (r"^max_open_stage_probability$", "Most advanced open deal at {pct} win probability|No open deal"),
    (r"^contacts_count$", "{v} contact{s} at the company"),
    (r"^lost_deals$", "{v} lost deal{s} so far"),
    (r"^lost_deals_(?P<n>\d+)d$", "{v} deal{s} lost in the last {n} days"),
    (r"^won_deals_(?P<n>\d+)d$", "{v} deal{s} won in the last {n} days"),
    (r"^days_since_last_lost_deal$", "Last lost a deal {v} day{s} ago|No lost deal"),
    (r"^lost_deal_amount_avg$", "Lost deals were worth ${v} on average|No lost deal"),
    (r"^days_since_first_reply_180d$", "First replied {v} day{s} ago|No reply in the last 180 days"),
    (r"^engagement_30d$", "Replied, visited, sent a form or met {v} time{s} in the last 30 days"),
    (r"^engagement_trend_30d$", "{signed} replies, visits, forms and meetings in the last 30 days vs the 30 before"),
    (r"^support_tickets_trend_(?P<n>\d+)d$", "{signed} support tickets in the last {n} days vs the {n} before"),
    (r"^order_rate_vs_lifetime$", "Ordering at {pct} of its usual rate in the last 90 days|No order yet"),
    (r"^support_tickets_per_30d_as_customer$", "{v} support tickets per 30 days as a customer"),
    (r"^web_visits_per_30d_as_customer$", "{v} website visits per 30 days as a customer"),
    (r"^emails_opened_per_30d_as_customer$", "{v} emails opened per 30 days as a customer"),
    (r"^emails_replied_per_30d_as_customer$", "{v} emails replied to per 30 days as a customer"),
    (r"^meetings_per_30d_as_customer$", "{v} meetings per 30 days as a customer"),
    (r"^orders_trend_(?P<n>\d+)d$", "{signed} orders in the last {n} days vs the {n} before"),
    (r"^sentiment_mean_(?P<n>\d+)d$", "Average sentiment in the last {n} days was {mood}|No notes or emails to read"),
    (r"^sentiment_trend_30d_vs_90d$", "Sentiment lately vs the last 90 days moved {signed}|No sentiment trend yet"),
    (r"^lead_source$", "Came in through {v}"),
    (r"^title_seniority$", "Title seniority is {v}"),
    (r"^company_size$", "Company has {v} employees"),
    (r"^company_industry$", "Industry is {v}"),
    (r"^churn_mode$", "Churn measured by {v}"),
    # crm.btyd_features: missing for contractual agencies and agencies without a BG/NBD fit
    (r"^bgnbd_p_alive$", "Still an active buyer with probability {pct} (BG/NBD)|No purchase-model estimate"),
    (r"^bgnbd_p_no_order_90d$", "No order in the next 90 days with probability {pct} (BG/NBD)"
                                "|No purchase-model estimate"),
    (r"^bgnbd_expected_orders_90d$", "{v} order{s} expected in the next 90 days (BG/NBD)|No purchase-model estimate"),
]
_COMPILED = [(re.compile(p), t) for p, t in TEMPLATES]


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _mood(value: float) -> str:
    label = "positive" if value >= 0.05 else "negative" if value <= -0.05 else "neutral"
    return f"{label} ({value:+.2f})"


def _humanize(name: str) -> tuple[str, str]:
    """Generic wording for an unknown feature: label, and a window phrase from a `_<N>d` suffix."""
    match = re.match(r"^(?P<base>.+)_(?P<n>\d+)d$", name)
    base, window = (match["base"], f" in the last {match['n']} days") if match else (name, "")
    words = re.sub(r"^(is|has)_", "", base).replace("_", " ")
    return words[:1].upper() + words[1:], window


def describe(name: str, value: object) -> str:
    """The feature and its value as a phrase (without the impact)."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    for pattern, template in _COMPILED:
        match = pattern.match(name)
        if not match:
            continue
        present, _, absent = template.partition("|")
        if missing:
            return absent or present.format(n=match.groupdict().get("n", ""), v="?", s="s", ies="ies", pct="?",
                                            mood="?", signed="?") + " (unknown)"
        fmt: dict[str, Callable[[], str]] | dict[str, str] = {}
        if isinstance(value, str):
            fmt = {"v": value, "s": "s", "ies": "ies", "pct": value, "mood": value, "signed": value}
        else:
            x = float(value)  # type: ignore[arg-type]
            if name.startswith("days_"):  # "81.61 days" reads oddly; whole days are what people count
                x = float(round(x))
            fmt = {"v": _number(x), "s": "" if x == 1 else "s", "ies": "y" if x == 1 else "ies",
                   "pct": f"{x:.0%}", "mood": _mood(x), "signed": f"{x:+g}"}
        return present.format(n=match.groupdict().get("n", ""), **fmt)
    label, window = _humanize(name)
    if missing:
        return f"{label}{window} unknown"
    if isinstance(value, bool) or name.startswith(("is_", "has_")):
        return f"{label}{window} = {'yes' if value else 'no'}"
    return f"{label}{window} = {value if isinstance(value, str) else _number(float(value))}"  # type: ignore[arg-type]


def _bool_phrase(name: str, value: object) -> str | None:
    if name == "has_company":
        return "Linked to a company" if value else "Not linked to a company"
    if name == "is_lapsed" and value is not None:
        return "Lapsed: no order in the last 90 days" if value else "Ordered in the last 90 days"
    return None


def sentence(name: str, value: object, impact: float) -> str:
    """"<what the feature says>: +12" (one decimal when the effect is under a point)."""
    phrase = _bool_phrase(name, value) or describe(name, value)
    points = f"{impact:+.0f}" if abs(impact) >= 0.95 else f"{impact:+.1f}"
    return f"{phrase}: {points}"

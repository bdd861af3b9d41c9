"""What stands behind a score on the page: which model produced it (and why the agency has that model), and for a
customer in activity (purchase) churn mode, lapsed or active and its expected orders over the churn horizon."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import scores, tenant_models
from crm.tenancy import tenant_settings
from serving.fallback import BG_NBD_COLUMNS, HORIZON_DAYS, expected_orders

# Scores written before migration 0014 have no kind: they came from the learned champion.
_LEARNED = "learned"


def model_label(kind: str | None, version: str | None = None) -> str:
    """A score's model in words, as a person reads it on the card and in the lists."""
    if kind == "bg_nbd":
        return "BG/NBD (fitted on this agency's orders)"
    if kind == "survival":
        return "Tenure life table (fitted on this agency's contracts)"
    if kind == "engagement":
        return "Engagement model (this agency's leads)"
    return f"Learned model v{version}" if version else "Learned model"


def model_of(session: Session, entity_type: str, score: dict | None) -> dict | None:
    """{kind, label, reason} of the model behind `score`; the reason is the agency's recorded choice (the pipeline's
    `scoring_choice` asset), shown only while that choice is still the kind that produced the score."""
    if score is None:
        return None
    kind = score.get("model_kind") or _LEARNED
    chosen = tenant_models.choice(session, entity_type)
    reason = chosen.reason if chosen is not None and chosen.kind == kind else None
    return {"kind": kind, "label": model_label(kind, score.get("model_version")), "reason": reason}


def models_in(session: Session, entity_type: str, rows: list[dict]) -> list[dict]:
    """The models behind a list's scored rows ({kind, label, reason}, once each), for the line above the table."""
    chosen = tenant_models.choice(session, entity_type)
    labels = {model_label(r["model_kind"], r["model_version"]): r["model_kind"] or _LEARNED
              for r in rows if r["score"] is not None}
    return [{"kind": kind, "label": label, "reason": chosen.reason if chosen and chosen.kind == kind else None}
            for label, kind in sorted(labels.items())]


# The currency the customer's orders were recorded in, when there is exactly one.
_ORDER_CURRENCIES = text(
    "select distinct upper(currency) from activities where tenant_id = app_tenant_id() and type = 'order' "
    "and currency is not null and (company_id = :i or contact_id in (select id from contacts where company_id = :i))")


def account_outlook(session: Session, company_id, score: dict | None) -> dict | None:
    """Churn mode 'activity' only (contractual churn has neither): {lapsed, expected_orders, expected_value,
    currency, horizon_days} from the features the score was computed from (analytics.features_latest) and the
    agency's BG/NBD fit (tenant_models' params, kept even when the learned model scores). None otherwise."""
    if score is None or tenant_settings(session)["churn_mode"] != "activity":
        return None
    features = scores.published_features(session, "account", company_id)
    if features is None:
        return None
    out: dict[str, Any] = {"lapsed": _number(features.get("is_lapsed")) == 1, "expected_orders": None,
                           "expected_value": None, "currency": "USD", "horizon_days": int(HORIZON_DAYS)}
    chosen = tenant_models.choice(session, "account")
    if chosen is None or "model" not in chosen.params or _number(features.get("order_days_lifetime")) is None:
        return out
    frame = pl.DataFrame({c: [_number(features.get(c))] for c in BG_NBD_COLUMNS}, schema={c: pl.Float64
                                                                                         for c in BG_NBD_COLUMNS})
    expected = float(expected_orders(chosen.params, frame)[0])
    if not math.isfinite(expected):
        return out
    out["expected_orders"] = expected
    order_value = _number(features.get("avg_order_value"))
    if order_value is not None:
        out["expected_value"] = expected * order_value
        currencies = [r[0] for r in session.execute(_ORDER_CURRENCIES, {"i": company_id})]
        if len(currencies) == 1 and len(currencies[0]) == 3 and currencies[0].isalpha():
            out["currency"] = currencies[0]
    return out


def _number(value: Any) -> float | None:
    """A published feature as a float; None for null, NaN or anything that is not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

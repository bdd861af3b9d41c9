"""Small shared reads: does a published table exist yet, a score's top reasons, a record's label."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import scores


def table_exists(session: Session, qualified_name: str) -> bool:
    """Tables published by other parts of the platform (analytics.*) may not exist on a fresh install."""
    return session.execute(text("select to_regclass(:n) is not null"), {"n": qualified_name}).scalar_one()


def top_reasons(factors: list | None, n: int = 3) -> list[dict]:
    """The factors that moved a score most, strongest first, each with a direction for the arrow."""
    rows = [f for f in (factors or []) if isinstance(f, dict)]
    rows.sort(key=lambda f: abs(float(f.get("impact") or 0)), reverse=True)
    return [{"text": f.get("text") or f.get("feature", ""), "up": float(f.get("impact") or 0) >= 0,
             "impact": float(f.get("impact") or 0), "feature": f.get("feature", ""), "value": f.get("value")}
            for f in rows[:n]]


def current_score(session: Session, entity_type: str, entity_id) -> dict | None:
    row = scores.current(session, entity_type, entity_id)
    if row is None:
        return None
    return {**row._mapping, "reasons": top_reasons(row.factors, 6)}


def score_history(session: Session, entity_type: str, entity_id, limit: int = 120) -> list[dict]:
    return scores.history(session, entity_type, entity_id, limit)


def sentiment_weekly(session: Session, column: str, entity_id, weeks: int = 26) -> list[dict]:
    """Average VADER compound per week for a contact's or company's notes and emails (text_sentiment)."""
    if column not in ("contact_id", "company_id") or not table_exists(session, "public.text_sentiment"):
        return []
    rows = session.execute(text(f"select date_trunc('week', occurred_at) as week, avg(compound) as compound, "
                                f"count(*) as n from text_sentiment where {column} = :i "
                                "group by 1 order by 1 desc limit :w"), {"i": entity_id, "w": weeks})
    return [dict(r._mapping) for r in rows][::-1]

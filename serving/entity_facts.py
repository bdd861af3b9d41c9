"""Facts about a company or contact from PostgreSQL, each phrased as one sentence with its citation.

Everything is read in the caller's tenant session (opened once per request at the edge), so row-level
security answers for the tenant: another tenant's company or contact simply does not exist here (the API
turns that into 404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import scores
from serving.citations import Citation

SENTIMENT_WINDOW = 5  # texts in the "recent" half of the trend


@dataclass(frozen=True)
class Entity:
    kind: str  # 'company' | 'contact'
    id: str
    name: str
    first_name: str = ""
    email: str = ""
    company_id: str | None = None
    company_name: str | None = None


@dataclass(frozen=True)
class Fact:
    sentence: str
    citation: Citation


def find_entity(session: Session, company_id=None, contact_id=None) -> tuple[Entity | None, str | None]:
    """(the entity the question is about, or None; the name of the kind that was asked for and is missing)."""
    company = contact = None
    if company_id is not None:
        row = session.execute(text("select id, name from companies where id = :id"), {"id": str(company_id)}).first()
        if row is None:
            return None, "company"
        company = Entity("company", str(row.id), row.name)
    if contact_id is not None:
        row = session.execute(text(
            "select c.id, c.first_name, c.last_name, c.email, c.company_id, co.name as company_name "
            "from contacts c left join companies co on co.id = c.company_id where c.id = :id"),
            {"id": str(contact_id)}).first()
        if row is None:
            return None, "contact"
        name = " ".join(p for p in (row.first_name, row.last_name) if p) or row.email
        contact = Entity("contact", str(row.id), name, row.first_name or name, row.email,
                         row.company_id and str(row.company_id), row.company_name)
    return contact or company, None


def company_named_in(session: Session, question: str) -> Entity | None:
    """The tenant's company whose name the question contains as whole words (the longest if several).
    Under RLS only this tenant's companies can match, so naming another tenant's company links nothing."""
    rows = session.execute(text(
        "select id, name from companies where length(name) >= 3 and position(lower(name) in lower(:q)) > 0 "
        "order by length(name) desc limit 20"), {"q": question[:2000]}).all()
    for row in rows:
        if re.search(rf"(?<!\w){re.escape(row.name.lower())}(?!\w)", question.lower()):
            return Entity("company", str(row.id), row.name)
    return None


def _date(value: datetime | None) -> str:
    return value.date().isoformat() if value else "an unknown date"


def _score_fact(session: Session, entity: Entity) -> Fact | None:
    entity_type = "lead" if entity.kind == "contact" else "account"
    row = scores.current(session, entity_type, entity.id)
    if row is None:
        return None
    label = "Lead score" if entity_type == "lead" else "Churn risk"
    meaning = "conversion" if entity_type == "lead" else "churn"
    sentence = (f"{label} for {entity.name}: {row.score}/100, tier {row.tier} "
                f"({row.probability:.0%} {meaning} probability, scored {_date(row.scored_at)})")
    top = [f.get("text") or f.get("feature") for f in (row.factors or [])[:2] if isinstance(f, dict)]
    if any(top):
        sentence += "; main factors: " + "; ".join(t for t in top if t)
    sentence += "."
    return Fact(sentence, Citation("score", entity.id, sentence, row.scored_at))


def _scope(entity: Entity, alias: str) -> str:
    """Rows about the entity: a company's own rows and those of its contacts."""
    if entity.kind == "contact":
        return f"{alias}.contact_id = :id"
    return f"({alias}.company_id = :id or {alias}.contact_id in (select id from contacts where company_id = :id))"


def _last_activity_fact(session: Session, entity: Entity) -> Fact | None:
    row = session.execute(text(
        f"select a.id, a.type, a.subject, a.occurred_at from activities a where {_scope(entity, 'a')} "
        "order by a.occurred_at desc limit 1"), {"id": entity.id}).first()
    if row is None:
        return None
    subject = f" ({row.subject})" if row.subject else ""
    sentence = (f"The last activity with {entity.name} was {row.type.replace('_', ' ')} "
                f"on {_date(row.occurred_at)}{subject}.")
    return Fact(sentence, Citation("activity", str(row.id), sentence, row.occurred_at))


def open_deal_facts(session: Session, entity: Entity, limit: int = 3) -> list[Fact]:
    rows = session.execute(text(
        f"select d.id, d.name, d.amount, d.currency, d.expected_close_date, s.name as stage, d.updated_at "
        f"from deals d join pipeline_stages s on s.id = d.stage_id where d.status = 'open' and {_scope(entity, 'd')} "
        "order by d.amount desc, d.id limit :n"), {"id": entity.id, "n": limit}).all()
    facts = []
    for r in rows:
        close = f", expected to close {r.expected_close_date.isoformat()}" if r.expected_close_date else ""
        sentence = (f"Open deal {r.name!r} with {entity.name}: {r.currency} {r.amount:,.0f}, "
                    f"stage {r.stage}{close}.")
        facts.append(Fact(sentence, Citation("deal", str(r.id), sentence, r.updated_at)))
    return facts


def _sentiment_fact(session: Session, entity: Entity) -> Fact | None:
    if session.execute(text("select to_regclass('text_sentiment')")).scalar() is None:
        return None
    rows = session.execute(text(
        f"select compound, occurred_at from text_sentiment t where {_scope(entity, 't')} "
        "order by occurred_at desc limit :n"), {"id": entity.id, "n": 4 * SENTIMENT_WINDOW}).all()
    if len(rows) < 2:
        return None
    recent = rows[:SENTIMENT_WINDOW] if len(rows) > SENTIMENT_WINDOW else rows[: len(rows) // 2]
    earlier = rows[len(recent):]
    now, before = (sum(r.compound for r in part) / len(part) for part in (recent, earlier))
    trend = "improving" if now - before > 0.1 else "declining" if before - now > 0.1 else "steady"
    sentence = (f"Sentiment with {entity.name} is {trend}: mean VADER compound {now:+.2f} over the last "
                f"{len(recent)} texts against {before:+.2f} over the {len(earlier)} before.")
    return Fact(sentence, Citation("sentiment", entity.id, sentence, rows[0].occurred_at))


def gather_facts(session: Session, entity: Entity | None) -> list[Fact]:
    """Score (or churn risk), open deals, last activity and sentiment trend of the entity, if any."""
    if entity is None:
        return []
    facts = [_score_fact(session, entity), *open_deal_facts(session, entity),
             _last_activity_fact(session, entity), _sentiment_fact(session, entity)]
    return [f for f in facts if f is not None]

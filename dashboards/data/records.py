"""Everything on a contact's or a company's page: timeline, tasks, deals, people, scores, sentiment."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm.db.models import Company, Contact, Deal, PipelineStage, Task
from dashboards.data.common import current_score, score_history, sentiment_weekly
from dashboards.data.next_action import next_action_panel
from dashboards.data.score_models import account_outlook, model_of

ACTIVITY_LABELS = {
    "email_sent": "Email sent", "email_opened": "Email opened", "email_clicked": "Email link clicked",
    "email_replied": "Email reply", "call": "Call", "meeting": "Meeting", "web_visit": "Website visit",
    "form_submit": "Form submitted", "order": "Order", "support_ticket": "Support ticket",
}


def timeline(session: Session, column: str, entity_id: uuid.UUID, limit: int = 60) -> list[dict]:
    """Activities and notes, newest first; for a company this includes its contacts' items."""
    if column == "company_id":
        scope = "(x.company_id = :i or x.contact_id in (select id from contacts where company_id = :i))"
    else:
        scope = "x.contact_id = :i"
    rows = session.execute(text(
        "select * from ("
        f"select 'activity' as kind, x.id, x.type, x.occurred_at, x.subject, x.body, x.contact_id "
        f"from activities x where {scope} "
        "union all "
        f"select 'note' as kind, x.id, 'note' as type, x.occurred_at, null as subject, x.body, x.contact_id "
        f"from notes x where {scope}) t order by occurred_at desc limit :n"), {"i": entity_id, "n": limit})
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["label"] = "Note" if item["kind"] == "note" else ACTIVITY_LABELS.get(item["type"], item["type"])
        out.append(item)
    return out


def tasks_for(session: Session, column: str, entity_id: uuid.UUID) -> list[Task]:
    return list(session.scalars(select(Task).where(getattr(Task, column) == entity_id)
                                .order_by(Task.is_done, Task.due_at.nulls_last(), Task.created_at)).all())


def deals_for(session: Session, column: str, entity_id: uuid.UUID) -> list[dict]:
    rows = session.execute(select(Deal, PipelineStage.name.label("stage"))
                           .join(PipelineStage, PipelineStage.id == Deal.stage_id)
                           .where(getattr(Deal, column) == entity_id).order_by(Deal.created_at.desc()))
    return [{"deal": d, "stage": stage} for d, stage in rows]


# Queued changes that will move an entity's score: its own, and for an account its contacts' as well
# (the score lane widens a contact's change to the company's churn risk).
_PENDING = {
    "lead": "select exists (select 1 from live_refresh_queue where entity_type = 'contact' and entity_id = :i)",
    "account": "select exists (select 1 from live_refresh_queue where (entity_type = 'company' and entity_id = :i) "
               "or (entity_type = 'contact' and entity_id in (select id from contacts where company_id = :i)))",
}


def score_card(session: Session, entity_type: str, entity_id: uuid.UUID) -> dict:
    """The score card's data: current score with reasons, its history, and whether the live refresher still
    has changes of this entity waiting (the card then says "updating…" and the page keeps polling); the model
    behind the score, and for an account in activity churn mode its lapsed/active state and expected orders."""
    score = current_score(session, entity_type, entity_id)
    return {
        "score": score,
        "model": model_of(session, entity_type, score),
        "outlook": account_outlook(session, entity_id, score) if entity_type == "account" else None,
        "history": score_history(session, entity_type, entity_id),
        "pending": session.execute(text(_PENDING[entity_type]), {"i": entity_id}).scalar_one(),
    }


def entity_card(session: Session, entity_type: str, entity_id: uuid.UUID) -> dict | None:
    """`score_card` of a contact ('lead') or company ('account'); None when this tenant has no such record."""
    model = Contact if entity_type == "lead" else Company
    if session.get(model, entity_id) is None:  # RLS: another tenant's id is a missing one
        return None
    return score_card(session, entity_type, entity_id)


def contact_page(session: Session, contact_id: uuid.UUID) -> dict | None:
    contact = session.get(Contact, contact_id)
    if contact is None:  # RLS: another tenant's contact looks exactly like a missing one
        return None
    return {
        "contact": contact,
        "company": session.get(Company, contact.company_id) if contact.company_id else None,
        **score_card(session, "lead", contact_id),
        "sentiment": sentiment_weekly(session, "contact_id", contact_id),
        "timeline": timeline(session, "contact_id", contact_id),
        "tasks": tasks_for(session, "contact_id", contact_id),
        "deals": deals_for(session, "contact_id", contact_id),
        "next_action": next_action_panel(session, "contact", contact_id),
    }


def company_page(session: Session, company_id: uuid.UUID) -> dict | None:
    company = session.get(Company, company_id)
    if company is None:
        return None
    people = session.execute(text(
        "select c.id, c.first_name, c.last_name, c.email, c.title, s.score, s.tier from contacts c "
        "left join scores s on s.entity_type = 'lead' and s.entity_id = c.id where c.company_id = :i "
        "order by s.score desc nulls last, c.last_name limit 50"), {"i": company_id})
    return {
        "company": company,
        **score_card(session, "account", company_id),
        "sentiment": sentiment_weekly(session, "company_id", company_id),
        "timeline": timeline(session, "company_id", company_id),
        "tasks": tasks_for(session, "company_id", company_id),
        "deals": deals_for(session, "company_id", company_id),
        "people": [dict(r._mapping) for r in people],
        "next_action": next_action_panel(session, "company", company_id),
    }


def source_location(session: Session, source_type: str, source_id: uuid.UUID) -> str | None:
    """Where a cited record is shown. Notes and activities: their contact's (else company's) page at the
    item's anchor; deals: their contact's or company's page; scores and sentiment cite the entity itself."""
    if source_type in ("note", "activity", "deal"):
        table = {"note": "notes", "activity": "activities", "deal": "deals"}[source_type]
        row = session.execute(text(f"select contact_id, company_id from {table} where id = :i"),
                              {"i": source_id}).first()
        if row is None:
            return None
        anchor = "" if source_type == "deal" else f"#{source_type}-{source_id}"
        if row.contact_id:
            return f"/contacts/{row.contact_id}{anchor}"
        if row.company_id:
            return f"/companies/{row.company_id}{anchor}"
        return f"/deals/{source_id}/edit" if source_type == "deal" else None
    if source_type in ("score", "sentiment"):
        if session.get(Contact, source_id) is not None:
            return f"/contacts/{source_id}"
        if session.get(Company, source_id) is not None:
            return f"/companies/{source_id}"
    return None

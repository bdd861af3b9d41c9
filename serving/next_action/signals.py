"""What the CRM knows about one company or contact that bears on what to do next, read in one tenant session.

Every read goes through the caller's session, so row-level security decides what exists: another tenant's
id is simply not found (`EntityNotFound`). A company's signals are its own and its contacts' rows (tasks,
activities, notes, deals, texts); a contact's are its own, plus its company's churn risk when it has one.
A handful of indexed queries; nothing here writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import scores
from serving.concerns import Text
from serving.insights import EntityNotFound
from serving.rag.sources import compose_text

TEXT_DAYS = 180        # texts read for sentiment and stated concerns (the marts look back as far)
MAX_TEXTS = 200
# Activities that are a conversation with the client, and which way they went.
INBOUND = ("email_replied", "support_ticket", "form_submit")
TEXT_ACTIVITIES = ("email_replied", "call", "meeting", "support_ticket")   # what the client said or we noted


@dataclass(frozen=True)
class Person:
    id: str
    name: str


@dataclass(frozen=True)
class Score:
    entity_id: str
    score: int
    probability: float
    tier: str
    factors: list[dict[str, Any]]
    scored_at: datetime


@dataclass(frozen=True)
class OpenTask:
    id: str
    title: str
    due_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Touch:
    source_type: str        # 'activity' | 'note'
    id: str
    kind: str               # activity type or 'note'
    occurred_at: datetime
    contact_id: str | None
    subject: str | None


@dataclass(frozen=True)
class OpenDeal:
    id: str
    name: str
    amount: Decimal
    currency: str
    stage: str
    win_probability: float
    expected_close_date: date | None
    stage_since: datetime
    contact_id: str | None


@dataclass
class Signals:
    entity_type: str                       # 'company' | 'contact'
    entity_id: str
    name: str
    created_at: datetime
    lifecycle: str                         # a company's lifecycle, a contact's lifecycle_stage
    now: datetime
    score: Score | None = None             # a company's churn risk, a contact's lead score
    account: Score | None = None           # a contact's company's churn risk
    company: Person | None = None          # a contact's company
    people: dict[str, Person] = field(default_factory=dict)   # contacts that may be named in the action
    tasks: list[OpenTask] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)        # newest first
    deals: list[OpenDeal] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)           # newest first


def scope(entity_type: str, alias: str) -> str:
    """Rows about the entity: a contact's own (binds :id); a company's own and its contacts' (binds :id and
    :contacts, the company's contact ids, so each side is an index probe rather than a scan of the tenant)."""
    if entity_type == "contact":
        return f"{alias}.tenant_id = app_tenant_id() and {alias}.contact_id = :id"
    return (f"{alias}.tenant_id = app_tenant_id() and ({alias}.company_id = :id "
            f"or {alias}.contact_id = any(cast(:contacts as uuid[])))")


def _name(first: str | None, last: str | None, email: str | None) -> str:
    return " ".join(p for p in (first, last) if p) or email or "this contact"


def _score(row: Any, entity_id: str) -> Score | None:
    if row is None:
        return None
    return Score(entity_id, int(row.score), float(row.probability), row.tier.strip(),
                 [f for f in (row.factors or []) if isinstance(f, dict)], row.scored_at)


def read_signals(session: Session, entity_type: str, entity_id: uuid.UUID | str, now: datetime) -> Signals:
    """Everything the rules look at, for a 'company' or a 'contact' of the session's tenant."""
    eid = str(uuid.UUID(str(entity_id)))
    if entity_type == "company":
        row = session.execute(text("select id, name, lifecycle, created_at from companies where id = :id"),
                              {"id": eid}).first()
        if row is None:
            raise EntityNotFound("company", eid)
        sig = Signals("company", eid, row.name, row.created_at, row.lifecycle, now,
                      score=_score(scores.current(session, "account", eid), eid))
        people = session.execute(text(
            "select id, first_name, last_name, email from contacts where company_id = :id"), {"id": eid}).all()
        sig.people = {str(p.id): Person(str(p.id), _name(p.first_name, p.last_name, p.email)) for p in people}
    elif entity_type == "contact":
        row = session.execute(text(
            "select c.id, c.first_name, c.last_name, c.email, c.lifecycle_stage, c.created_at, c.company_id, "
            "co.name as company_name from contacts c left join companies co on co.id = c.company_id "
            "where c.id = :id"), {"id": eid}).first()
        if row is None:
            raise EntityNotFound("contact", eid)
        name = _name(row.first_name, row.last_name, row.email)
        sig = Signals("contact", eid, name, row.created_at, row.lifecycle_stage, now,
                      score=_score(scores.current(session, "lead", eid), eid), people={eid: Person(eid, name)})
        if row.company_id is not None:
            cid = str(row.company_id)
            sig.company = Person(cid, row.company_name)
            sig.account = _score(scores.current(session, "account", cid), cid)
    else:
        raise ValueError(f"entity_type must be 'company' or 'contact', not {entity_type!r}")
    params = {"id": eid, "contacts": list(sig.people), "now": now, "since": now - timedelta(days=TEXT_DAYS),
              "n": MAX_TEXTS}
    sig.tasks = [OpenTask(str(r.id), r.title, r.due_at, r.created_at) for r in session.execute(text(
        f"select id, title, due_at, created_at from tasks t where not is_done and {scope(entity_type, 't')} "
        "order by due_at nulls last, created_at limit 20"), params)]
    sig.touches = [Touch(r.source_type, str(r.id), r.kind, r.occurred_at, r.contact_id and str(r.contact_id),
                         r.subject) for r in session.execute(text(_TOUCHES.format(a=scope(entity_type, "a"),
                                                                                  n=scope(entity_type, "n"))), params)]
    sig.deals = [OpenDeal(str(r.id), r.name, r.amount, r.currency, r.stage, float(r.win_probability),
                          r.expected_close_date, r.stage_since, r.contact_id and str(r.contact_id))
                 for r in session.execute(text(_DEALS.format(d=scope(entity_type, "d"))), params)]
    sig.texts = [Text(r.source_type, str(r.id), r.kind, r.occurred_at, r.contact_id and str(r.contact_id),
                      compose_text(r.subject, r.body), r.compound)
                 for r in session.execute(text(_TEXTS.format(a=scope(entity_type, "a"), n=scope(entity_type, "n"))),
                                          params)]
    return sig


# The newest conversations each way (a one-to-one email, call, meeting, reply, ticket, form) and notes;
# campaign sends are marketing to many, not a touch of this client.
_TOUCHES = f"""
select * from (
  (select 'activity' as source_type, a.id, a.type as kind, a.occurred_at, a.contact_id, a.subject from activities a
    where {{a}} and a.occurred_at <= :now
      and (a.type in {(*INBOUND, 'call', 'meeting')} or (a.type = 'email_sent' and a.campaign_id is null))
    order by a.occurred_at desc limit 20)
  union all
  (select 'note', n.id, 'note', n.occurred_at, n.contact_id, null from notes n where {{n}} and n.occurred_at <= :now
    order by n.occurred_at desc limit 5)
) t order by occurred_at desc
"""
_DEALS = """
select d.id, d.name, d.amount, d.currency, d.expected_close_date, d.contact_id, s.name as stage, s.win_probability,
       coalesce((select max(h.changed_at) from deal_stage_history h where h.deal_id = d.id), d.created_at)
         as stage_since
from deals d join pipeline_stages s on s.id = d.stage_id
where d.status = 'open' and {d}
order by d.amount * s.win_probability desc, d.id limit 10
"""
# The client's own words (and ours about them) with their stored sentiment, newest first.
_TEXTS = f"""
select * from (
  select 'note' as source_type, n.id, 'note' as kind, n.occurred_at, n.contact_id, null as subject, n.body,
         s.compound
  from notes n left join text_sentiment s
    on s.tenant_id = app_tenant_id() and s.source_type = 'note' and s.source_id = n.id
  where {{n}} and n.occurred_at > :since and n.occurred_at <= :now
  union all
  select 'activity', a.id, a.type, a.occurred_at, a.contact_id, a.subject, a.body, s.compound
  from activities a left join text_sentiment s
    on s.tenant_id = app_tenant_id() and s.source_type = 'activity' and s.source_id = a.id
  where {{a}} and a.type in {TEXT_ACTIVITIES} and a.occurred_at > :since and a.occurred_at <= :now
    and coalesce(nullif(a.body, ''), a.subject) is not null
) t order by occurred_at desc limit :n
"""

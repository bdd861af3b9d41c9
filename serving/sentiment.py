"""Sentiment of CRM text (notes and conversational activity bodies) with VADER, kept in PostgreSQL.

VADER is a lexicon model: no weights to download, ~40 µs per text, deterministic. Scores live in
`text_sentiment` (one row per source text, RLS per tenant) so the marts and the API read the same
number. Only texts that are new or changed (by md5 of the text) are scored again.

A contact's or company's *recent sentiment* is the mean compound of its texts of the last `RECENT_DAYS` days,
read as negative (<= -0.05), positive (>= 0.05) or neutral (in between, or no recent text). When scoring turns
that label for an entity, a `sentiment.changed` event (`crm.events`) announces it in the same transaction,
`{"sentiment": [old mean, new mean], "label": [old, new]}`: the touched entities' means are read once before
the write and once after, whatever their number.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.db.engine import tenant_session
from crm.events import emit
from crm.tenancy import all_tenant_ids

# Activity types whose body is something a person wrote or said (not a bulk email or a page view).
SCORED_ACTIVITY_TYPES = ("email_replied", "call", "meeting", "support_ticket")

_PENDING_SQL = """
with texts as (
  select 'note' as source_type, n.id as source_id, n.contact_id, n.company_id, n.occurred_at, n.body as body
  from notes n
  union all
  select 'activity', a.id, a.contact_id, a.company_id, a.occurred_at, coalesce(nullif(a.body, ''), a.subject)
  from activities a
  where a.type in ('email_replied', 'call', 'meeting', 'support_ticket')
    and coalesce(nullif(a.body, ''), a.subject) is not null
)
select t.source_type, t.source_id, t.contact_id, t.company_id, t.occurred_at, t.body, md5(t.body) as text_hash,
       s.contact_id as stored_contact_id, s.company_id as stored_company_id
from texts t
left join text_sentiment s
  on s.tenant_id = app_tenant_id() and s.source_type = t.source_type and s.source_id = t.source_id
where (s.source_id is null
   or s.text_hash <> md5(t.body)
   or s.contact_id is distinct from t.contact_id
   or s.company_id is distinct from t.company_id
   or s.occurred_at <> t.occurred_at)
  and {only}
"""

# Sources deleted (or no longer a scored type) lose their sentiment row.
_ORPHANS_SQL = """
select s.source_id, s.contact_id, s.company_id from text_sentiment s
where ((s.source_type = 'note' and not exists (select 1 from notes n where n.id = s.source_id))
   or (s.source_type = 'activity' and not exists (
         select 1 from activities a where a.id = s.source_id
           and a.type in ('email_replied', 'call', 'meeting', 'support_ticket'))))
  and {only}
"""
RECENT_DAYS = 30
# The recent mean per entity of some contacts and companies (`now()` is the transaction's start: the reads
# before and after a write see the same window).
_RECENT_SQL = text(f"""
select 'contact' as entity_type, contact_id as entity_id, avg(compound) as mean from text_sentiment
 where tenant_id = app_tenant_id() and contact_id = any(cast(:contacts as uuid[]))
   and occurred_at > now() - interval '{RECENT_DAYS} days' and occurred_at <= now()
 group by contact_id
union all
select 'company', company_id, avg(compound) from text_sentiment
 where tenant_id = app_tenant_id() and company_id = any(cast(:companies as uuid[]))
   and occurred_at > now() - interval '{RECENT_DAYS} days' and occurred_at <= now()
 group by company_id
""")
# Texts of some contacts or companies only (the live path); the batch job passes no ids and takes all.
_ONLY = ("(cast(:contacts as uuid[]) is null or {t}.contact_id = any(cast(:contacts as uuid[])) "
         "or {t}.company_id = any(cast(:companies as uuid[])))")

_UPSERT_SQL = """
insert into text_sentiment (tenant_id, source_type, source_id, contact_id, company_id, occurred_at,
                            compound, text_hash, scored_at)
select app_tenant_id(), source_type, source_id, contact_id, company_id, occurred_at, compound, text_hash, now()
from _sentiment_batch
on conflict (tenant_id, source_type, source_id) do update set
  contact_id = excluded.contact_id, company_id = excluded.company_id, occurred_at = excluded.occurred_at,
  compound = excluded.compound, text_hash = excluded.text_hash, scored_at = excluded.scored_at
"""


@lru_cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def score_text(body: str) -> float:
    """VADER compound score in [-1, 1]: below -0.05 reads negative, above 0.05 positive."""
    if not body or not body.strip():
        return 0.0
    return float(_analyzer().polarity_scores(body)["compound"])


@dataclass(frozen=True)
class SentimentRun:
    tenants: int
    scored: int
    removed: int


def score_tenant(tenant_id: uuid.UUID | str) -> tuple[int, int]:
    """Score the tenant's new or changed texts and drop scores of deleted ones: (scored, removed)."""
    with tenant_session(tenant_id) as session:
        return score_pending(session)


def score_pending(session: Session, contact_ids: Sequence[uuid.UUID] | None = None,
                  company_ids: Sequence[uuid.UUID] | None = None) -> tuple[int, int]:
    """In the caller's tenant session: score the new or changed texts, drop orphaned scores; with ids,
    only the texts of those contacts or companies (what a live refresh touched)."""
    if contact_ids is None and company_ids is None:
        params: dict = {"contacts": None, "companies": None}
    else:
        params = {"contacts": [str(i) for i in contact_ids or ()], "companies": [str(i) for i in company_ids or ()]}
    rows = session.execute(text(_PENDING_SQL.format(only=_ONLY.format(t="t"))), params).all()
    orphans = session.execute(text(_ORPHANS_SQL.format(only=_ONLY.format(t="s"))), params).all()
    # whose mood can move: the owners of new, changed, moved (old owner too) and deleted texts
    touched = _owners(rows, "contact_id", "company_id") | _owners(rows, "stored_contact_id", "stored_company_id") \
        | _owners(orphans, "contact_id", "company_id")
    before = recent_sentiment(session, touched)
    if orphans:
        session.execute(text("delete from text_sentiment where tenant_id = app_tenant_id() "
                             "and source_id = any(cast(:ids as uuid[]))"), {"ids": [str(o.source_id) for o in orphans]})
    write(session, [(r.source_type, r.source_id, r.contact_id, r.company_id, r.occurred_at, score_text(r.body),
                     r.text_hash) for r in rows])
    announce_turns(session, touched, before, recent_sentiment(session, touched))
    return len(rows), len(orphans)


def _owners(rows: list, contact_column: str, company_column: str) -> set[tuple[str, uuid.UUID]]:
    return {(kind, entity_id) for r in rows
            for kind, entity_id in (("contact", getattr(r, contact_column)), ("company", getattr(r, company_column)))
            if entity_id is not None}


def label_of(mean: float | None) -> str:
    """negative | neutral | positive (no recent text reads neutral), with VADER's usual thresholds."""
    if mean is None:
        return "neutral"
    return "positive" if mean >= 0.05 else "negative" if mean <= -0.05 else "neutral"


def recent_sentiment(session: Session, entities: set[tuple[str, uuid.UUID]]) -> dict[tuple[str, uuid.UUID], float]:
    """{(entity_type, id): recent mean} of these contacts and companies (absent: no recent text), one read."""
    if not entities:
        return {}
    params: dict[str, list[str]] = {"contacts": [], "companies": []}
    for kind, entity_id in entities:
        params["contacts" if kind == "contact" else "companies"].append(str(entity_id))
    return {(r.entity_type, r.entity_id): float(r.mean) for r in session.execute(_RECENT_SQL, params)}


def announce_turns(session: Session, entities: set[tuple[str, uuid.UUID]], before: dict, after: dict) -> int:
    """A `sentiment.changed` event for each entity whose recent label turned; how many."""
    turned = 0
    for kind, entity_id in sorted(entities, key=lambda e: (e[0], str(e[1]))):
        old, new = before.get((kind, entity_id)), after.get((kind, entity_id))
        if label_of(old) != label_of(new):
            emit(session, "sentiment.changed", kind, entity_id,
                 {"sentiment": [old, new], "label": [label_of(old), label_of(new)]})
            turned += 1
    return turned


def write(session: Session, scored: list[tuple]) -> None:
    """The one write of sentiment: upsert (source_type, source_id, contact_id, company_id, occurred_at,
    compound, text_hash) rows into text_sentiment for the session's tenant, in one COPY."""
    if not scored:
        return
    buf = io.StringIO()
    for source_type, source_id, contact_id, company_id, occurred_at, compound, text_hash in scored:
        fields = [source_type, str(source_id), _or_null(contact_id), _or_null(company_id), occurred_at.isoformat(),
                  repr(float(compound)), text_hash]
        buf.write("\t".join(fields) + "\n")
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("drop table if exists _sentiment_batch")  # a second write in the same transaction
        cur.execute("create temp table _sentiment_batch (source_type text, source_id uuid, contact_id uuid, "
                    "company_id uuid, occurred_at timestamptz, compound double precision, text_hash text) "
                    "on commit drop")
        with cur.copy("copy _sentiment_batch from stdin") as copy:
            copy.write(buf.getvalue())
    session.execute(text(_UPSERT_SQL))


def _or_null(value: object) -> str:
    return "\\N" if value is None else str(value)


def score_all_tenants() -> SentimentRun:
    """The platform job: every tenant in turn, each inside its own RLS-scoped transaction."""
    tenant_ids = all_tenant_ids()
    scored = removed = 0
    for tenant_id in tenant_ids:
        s, r = score_tenant(tenant_id)
        scored += s
        removed += r
    return SentimentRun(tenants=len(tenant_ids), scored=scored, removed=removed)

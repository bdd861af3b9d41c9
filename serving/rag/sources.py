"""The texts worth retrieving, read from PostgreSQL under the tenant's row-level security.

A source is one note or one conversational activity (a one-to-one email sent or replied, a call or meeting
summary, a support ticket; campaign sends are left out). Entity links are resolved here: a note on a contact
also belongs to the contact's company, so a question about the company finds it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.db.engine import tenant_session
from serving.rag.chunking import CHUNKING_VERSION

INDEXED_ACTIVITY_TYPES = ("email_sent", "email_replied", "call", "meeting", "support_ticket")

_SOURCES_SQL = """
select 'note' as source_type, 'note' as kind, n.id as source_id, n.contact_id,
       coalesce(n.company_id, c.company_id) as company_id, n.deal_id, n.occurred_at,
       null::text as subject, n.body
from notes n
left join contacts c on c.id = n.contact_id
{note_keys}
union all
select 'activity', a.type, a.id, a.contact_id, coalesce(a.company_id, c.company_id), a.deal_id, a.occurred_at,
       a.subject, a.body
from activities a
left join contacts c on c.id = a.contact_id
where a.type in ('email_sent', 'email_replied', 'call', 'meeting', 'support_ticket')
  -- campaign sends are the same marketing copy to many contacts: nothing about this contact to retrieve,
  -- and embedding them would be most of the indexing time
  and not (a.type = 'email_sent' and a.campaign_id is not null)
  and coalesce(nullif(a.body, ''), nullif(a.subject, '')) is not null
  {activity_keys}
"""


@dataclass(frozen=True)
class Source:
    source_type: str  # 'note' | 'activity' (the PostgreSQL table the text lives in)
    kind: str  # 'note' or the activity type
    source_id: str
    contact_id: str | None
    company_id: str | None
    deal_id: str | None
    occurred_at: datetime
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return self.source_type, self.source_id

    @property
    def text_hash(self) -> str:
        return hashlib.md5(f"{CHUNKING_VERSION}\n{self.text}".encode()).hexdigest()

    @property
    def links(self) -> tuple:
        """What may change without the text changing (no re-embedding needed then)."""
        return self.kind, self.contact_id, self.company_id, self.deal_id, self.occurred_at


def compose_text(subject: str | None, body: str | None) -> str:
    """What is embedded and searched: the subject line (emails, tickets) then the body."""
    parts = [p.strip() for p in (subject, body) if p and p.strip()]
    if len(parts) == 2 and parts[1].startswith(parts[0]):
        return parts[1]
    return "\n".join(parts)


def _str(value) -> str | None:
    return None if value is None else str(value)


def read_sources(session: Session, keys: Collection[tuple[str, str]] | None = None) -> list[Source]:
    """The indexable texts visible to the session's tenant; with `keys` ((source_type, source_id) pairs) only
    those, so a key missing from the result is a text that is gone or no longer indexed."""
    if keys is None:
        sql, params = _SOURCES_SQL.format(note_keys="", activity_keys=""), {}
    else:
        sql = _SOURCES_SQL.format(note_keys="where n.id = any(cast(:note_ids as uuid[]))",
                                  activity_keys="and a.id = any(cast(:activity_ids as uuid[]))")
        params = {"note_ids": [i for t, i in keys if t == "note"],
                  "activity_ids": [i for t, i in keys if t == "activity"]}
    rows = session.execute(text(sql), params).all()
    sources = [Source(r.source_type, r.kind, str(r.source_id), _str(r.contact_id), _str(r.company_id),
                      _str(r.deal_id), r.occurred_at, compose_text(r.subject, r.body)) for r in rows]
    return [s for s in sources if s.text]


def load_sources(tenant_id: uuid.UUID | str, keys: Collection[tuple[str, str]] | None = None) -> list[Source]:
    with tenant_session(tenant_id) as session:
        return read_sources(session, keys)

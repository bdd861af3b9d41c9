"""Activity events from outside (landing files, `POST /api/v1/events`): one validation, one insert.

Both paths run inside a tenant_session, so contacts and companies resolve within that tenant only
(RLS) and rows are written with its tenant_id. `(tenant_id, source, external_id)` is unique: an event
sent twice is stored once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.timestamps import TimestampOutOfRange, bounded

ACTIVITY_TYPES = frozenset({
    "email_sent", "email_opened", "email_clicked", "email_replied", "call", "meeting", "web_visit",
    "form_submit", "order", "support_ticket",
})
KNOWN_FIELDS = {"type", "occurred_at", "external_id", "contact_email", "contact_id", "company_id", "subject",
                "body", "source", "properties"}
MAX_FUTURE = timedelta(days=1)


class EventError(ValueError):
    """Why one event was refused, worded for the person who sent it."""


def _clean(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class TenantDirectory:
    """Contacts and companies of the session's tenant named by a batch of events, looked up once."""

    def __init__(self, session: Session, events: Iterable[dict]):
        events = list(events)
        emails = sorted({e.lower() for e in (_clean(r.get("contact_email")) for r in events) if e})
        contact_ids = sorted({c for c in (_uuid(_clean(r.get("contact_id"))) for r in events) if c})
        company_ids = sorted({c for c in (_uuid(_clean(r.get("company_id"))) for r in events) if c})
        rows = session.execute(text(
            "select id::text, lower(email), company_id::text from contacts "
            "where lower(email) = any(:emails) or id = any(cast(:ids as uuid[]))"),
            {"emails": emails, "ids": contact_ids}).all()
        self.contact_by_email = {email: cid for cid, email, _ in rows}
        self.company_of_contact = {cid: company for cid, _, company in rows}
        self.companies = {r[0] for r in session.execute(
            text("select id::text from companies where id = any(cast(:ids as uuid[]))"), {"ids": company_ids})}


def parse_time(value: str | datetime | None) -> datetime:
    """An event's occurred_at as an aware datetime within the product's range, or EventError."""
    if value is None or value == "":
        raise EventError("occurred_at is missing")
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise EventError(f"occurred_at {value!r} is not an ISO 8601 timestamp") from exc
    try:
        ts = bounded(ts)  # the product's range, naive = UTC (crm.timestamps: the rule every path shares)
    except TimestampOutOfRange as exc:
        raise EventError(f"occurred_at {exc}") from exc
    if ts > datetime.now(UTC) + MAX_FUTURE:
        raise EventError(f"occurred_at {value!r} is in the future")
    return ts


def validate_event(row: dict, directory: TenantDirectory, default_source: str) -> dict:
    """A raw event (CSV row, JSON object) -> column values for `activities`, or EventError."""
    kind = _clean(row.get("type"))
    if kind not in ACTIVITY_TYPES:
        raise EventError(f"type {kind!r} is not one of {', '.join(sorted(ACTIVITY_TYPES))}")
    occurred_at = parse_time(row.get("occurred_at"))
    external_id = _clean(row.get("external_id"))
    if not external_id:
        raise EventError("external_id is missing (needed so a resent event is not loaded twice)")
    contact_ref, email = _clean(row.get("contact_id")), (_clean(row.get("contact_email")) or "").lower()
    company_ref = _clean(row.get("company_id"))
    contact_id = company_id = None
    if contact_ref:
        contact_id = _uuid(contact_ref)
        if contact_id not in directory.company_of_contact:
            raise EventError(f"contact_id {contact_ref} is not a contact of this tenant")
    elif email:
        contact_id = directory.contact_by_email.get(email)
        if contact_id is None:
            raise EventError(f"no contact with email {email!r} in this tenant")
    if company_ref:
        company_id = _uuid(company_ref)
        if company_id not in directory.companies:
            raise EventError(f"company_id {company_ref} is not a company of this tenant")
    if contact_id is None and company_id is None:
        raise EventError("contact_id, contact_email or company_id is required")
    props = row.get("properties")
    if isinstance(props, str) and props.strip():
        try:
            props = json.loads(props)
        except json.JSONDecodeError as exc:
            raise EventError("properties is not valid JSON") from exc
    props = dict(props) if isinstance(props, dict) else {}
    props.update({k: v for k, v in row.items() if k not in KNOWN_FIELDS and _clean(v) is not None})
    return {
        "type": kind, "occurred_at": occurred_at, "external_id": external_id, "contact_id": contact_id,
        "company_id": company_id or (directory.company_of_contact.get(contact_id) if contact_id else None),
        "subject": _clean(row.get("subject")), "body": _clean(row.get("body")),
        "source": _clean(row.get("source")) or default_source, "properties": json.dumps(props, default=str),
    }


_INSERT = text("""
insert into activities (tenant_id, type, occurred_at, contact_id, company_id, subject, body, properties, source,
                        external_id)
values (app_tenant_id(), :type, :occurred_at, cast(:contact_id as uuid), cast(:company_id as uuid), :subject, :body,
        cast(:properties as jsonb), :source, :external_id)
on conflict (tenant_id, source, external_id) where external_id is not null do nothing
returning id
""")


def insert_event(session: Session, values: dict) -> str | None:
    """Insert one validated event; the new activity id, or None if that event was already stored."""
    row = session.execute(_INSERT, values).first()
    return str(row[0]) if row else None

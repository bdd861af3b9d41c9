"""Activities: written by people (API, dashboard) and by other systems as events (POST /events, landing
files, CSV import). An event names itself with (source, external_id), is stored once however often it is
sent, and counts for its contact's company unless it names one. Events are validated here, one event at a
time, so one bad event is refused with its reason while the rest of a batch is stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from crm.db.engine import session_tenant
from crm.db.models import Activity, Company, Contact
from crm.ids import InvalidId, parse_uuid
from crm.schemas.activities import ActivityCreate, ActivityCurrency, ActivityType, ActivityUpdate, Amount
from crm.services import records
from crm.services.changes import record
from crm.tenancy import Principal
from crm.timestamps import TimestampOutOfRange, bounded

ACTIVITY_TYPES = frozenset(ActivityType.__args__)
KNOWN_FIELDS = {"type", "occurred_at", "external_id", "contact_email", "contact_id", "company_id", "subject",
                "body", "source", "properties", "amount", "currency"}
MAX_FUTURE = timedelta(days=1)
SPEND = {"amount": TypeAdapter(Amount), "currency": TypeAdapter(ActivityCurrency)}


def with_spend(values: dict[str, Any]) -> dict[str, Any]:
    """`amount` / `currency` lifted from `properties` when the columns are not given: integrations that put an
    order's value in properties (as every client did before the columns existed) keep feeding spend. A value
    there that does not parse stays in properties only (properties are free-form; the columns are not)."""
    properties = values.get("properties")
    if not isinstance(properties, dict):
        return values
    lifted = dict(values)
    for column, adapter in SPEND.items():
        if values.get(column) is None and properties.get(column) not in (None, ""):
            try:
                lifted[column] = adapter.validate_python(str(properties[column]))
            except ValidationError:
                continue
    return lifted


def create(session: Session, payload: ActivityCreate, actor: Principal | None = None) -> Activity:
    values = with_spend(payload.model_dump())
    records.check_references(session, values)
    return records.insert(session, Activity, values)


def update(session: Session, activity: Activity, changes: ActivityUpdate) -> Activity:
    values = changes.model_dump(exclude_unset=True)
    if "properties" in values:   # lift from the new properties only what the change does not set itself
        lifted = with_spend({"amount": None, "currency": None, **values})
        values.update({k: v for k, v in lifted.items() if k in SPEND and k not in values and v is not None})
    records.check_references(session, values)
    return records.apply(session, activity, values)


def delete(session: Session, activity: Activity) -> None:
    records.remove(session, activity)


def company_of_event(session: Session, contact_id: uuid.UUID | None, company_id: uuid.UUID | None) -> Any:
    """An event about a contact counts for the contact's company, unless it names a company itself."""
    if company_id is not None or contact_id is None:
        return company_id
    contact = session.get(Contact, contact_id)
    return contact.company_id if contact is not None else None


def record_event(session: Session, values: dict[str, Any]) -> uuid.UUID | None:
    """Store one validated event (activity columns with `source` and `external_id`); its new id, or None
    when that (source, external_id) is already stored."""
    values = with_spend({**values,
                         "company_id": company_of_event(session, values.get("contact_id"), values.get("company_id"))})
    records.check_references(session, values)
    stmt = (insert(Activity).values(id=uuid.uuid4(), tenant_id=session_tenant(session), **values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "source", "external_id"],
                                    index_where=Activity.external_id.is_not(None))
            .returning(Activity.id))
    activity_id = session.execute(stmt).scalar()
    if activity_id is not None:
        record(session, "activities", activity_id, "create", {k: [None, v] for k, v in values.items()})
    return activity_id


class EventError(ValueError):
    """Why one event was refused, worded for the person who sent it."""


@dataclass(frozen=True)
class EventOutcome:
    status: Literal["accepted", "duplicate", "rejected"]
    activity_id: uuid.UUID | None = None
    reason: str | None = None


def ingest(session: Session, events: list[dict], default_source: str) -> list[EventOutcome]:
    """Validate and store a batch of raw events (JSON objects, CSV rows), one outcome per event."""
    directory = TenantDirectory(session, events)
    outcomes = []
    for event in events:
        try:
            values = validate_event(event, directory, default_source)
        except EventError as exc:
            outcomes.append(EventOutcome("rejected", reason=str(exc)))
            continue
        activity_id = record_event(session, values)
        outcomes.append(EventOutcome("accepted", activity_id) if activity_id else EventOutcome("duplicate"))
    return outcomes


def _clean(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return parse_uuid(value)
    except InvalidId:
        return None


class TenantDirectory:
    """Contacts and companies of the session's tenant named by a batch of events, loaded once (into the
    session, so the rules that look them up again find them there)."""

    def __init__(self, session: Session, events: Iterable[dict]):
        events = list(events)
        emails = sorted({e.lower() for e in (_clean(r.get("contact_email")) for r in events) if e})
        contact_ids = sorted({c for c in (_uuid(_clean(r.get("contact_id"))) for r in events) if c})
        company_ids = sorted({c for c in (_uuid(_clean(r.get("company_id"))) for r in events) if c})
        contacts = session.scalars(select(Contact).where(func.lower(Contact.email).in_(emails)
                                                         | Contact.id.in_(contact_ids))).all()
        self.contact_by_email = {c.email.lower(): c.id for c in contacts}
        self.contacts = {c.id for c in contacts}
        self.companies = {c.id for c in session.scalars(select(Company).where(Company.id.in_(company_ids)))}


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


def validate_event(row: dict, directory: TenantDirectory, default_source: str) -> dict[str, Any]:
    """A raw event (CSV row, JSON object) -> column values for `record_event`, or EventError."""
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
        if contact_id not in directory.contacts:
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
        "company_id": company_id, "subject": _clean(row.get("subject")), "body": _clean(row.get("body")),
        "source": _clean(row.get("source")) or default_source,
        "properties": json.loads(json.dumps(props, default=str)),   # as JSON stores it (dates become text)
        **{column: _spend(row, column) for column in SPEND},
    }


def _spend(row: dict, column: str) -> Any:
    """An event's own amount / currency, or EventError; one left out may still come from its properties."""
    value = row.get(column)
    if _clean(value) is None:
        return None
    try:
        return SPEND[column].validate_python(value if not isinstance(value, float) else str(value))
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise EventError(f"{column} {value!r} is not valid: {reason.lower()}") from exc

"""Webhook subscriptions of an agency: the service behind `/api/v1/webhooks` (every call in its tenant session).

Writes go through `crm.services.changes.record` (entity `webhook`), so they are audited and published like any
record's; the secret never enters a recorded change, a list or a read: `create` and `rotate_secret` hand it
back once, for the caller to store. A recorded URL keeps its origin only (`https://hooks.example.com/…`):
the audit log is readable by every role and changes are published as events, while many webhook URLs carry
a credential in their path or query (chat tools' incoming-webhook URLs do). A URL is checked by
`crm.webhooks.targets` when it is saved (a refused one is a 422 saying why) and again before every delivery.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from crm.db.engine import session_tenant
from crm.db.models import WebhookDelivery, WebhookSubscription
from crm.services.changes import record
from crm.services.errors import Invalid, NotFound
from crm.services.records import now as _now
from crm.webhooks import targets

ENTITY = "webhook_subscriptions"
KIND = "webhook"
MAX_URL_LENGTH = 2000
MAX_EVENT_TYPES = 50
# `*`, a type (`deal.updated`, `lead_score.changed`, `ping`) or a prefix of one (`deal.*`)
EVENT_TYPE = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$")
SECRET_PREFIX = "whsec_"
HIDDEN = "(hidden)"
DISABLED_BY_REQUEST = "disabled on request"


@dataclass(frozen=True)
class Issued:
    """A subscription with its signing secret: answered once, at creation or rotation."""
    subscription: WebhookSubscription
    secret: str


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def checked_url(url: str) -> str:
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise Invalid("url", f"url: at most {MAX_URL_LENGTH} characters")
    targets.check(url)
    return url


def checked_event_types(event_types: list[str]) -> list[str]:
    """Distinct, in the order given; each `*`, a type or a `prefix.*`."""
    if not event_types:
        raise Invalid("event_types", "event_types: name at least one event type, or '*' for all")
    if len(event_types) > MAX_EVENT_TYPES:
        raise Invalid("event_types", f"event_types: at most {MAX_EVENT_TYPES}")
    for value in event_types:
        if not EVENT_TYPE.match(value):
            raise Invalid("event_types", f"event_types: {value!r} is not '*', an event type such as "
                                         "'deal.updated' or a prefix such as 'deal.*'")
    return list(dict.fromkeys(event_types))


def redacted(url: str | None) -> str | None:
    """The URL as the audit log and the change events show it: scheme, host and port only."""
    if url is None:
        return None
    parsed = targets.parse(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}/…"


def _recorded(values: dict) -> dict:
    return {k: [redacted(old), redacted(new)] if k == "url" else [old, new] for k, (old, new) in values.items()}


def create(session: Session, url: str, event_types: list[str], description: str = "",
           enabled: bool = True) -> Issued:
    values = {"url": checked_url(url), "event_types": checked_event_types(event_types),
              "description": description, "enabled": enabled}
    secret = new_secret()
    sub = WebhookSubscription(id=uuid.uuid4(), tenant_id=session_tenant(session), secret=secret, **values,
                              disabled_at=None if enabled else _now(session),
                              disabled_reason=None if enabled else DISABLED_BY_REQUEST)
    session.add(sub)
    session.flush()
    session.refresh(sub)
    record(session, ENTITY, sub.id, "create",
           {**_recorded({k: [None, v] for k, v in values.items()}), "secret": [None, HIDDEN]})
    return Issued(sub, secret)


def get(session: Session, subscription_id: uuid.UUID, lock: bool = False) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id, with_for_update={"key_share": True} if lock else None,
                      populate_existing=lock)
    if sub is None:
        raise NotFound(KIND, subscription_id)
    return sub


def list_page(session: Session, limit: int, after: tuple[datetime, uuid.UUID] | None = None) -> list:
    """Up to `limit` subscriptions, oldest first, after the keyset `after` (created_at, id)."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    if after is not None:
        query = query.where(tuple_(WebhookSubscription.created_at, WebhookSubscription.id) > tuple_(*after))
    return list(session.scalars(query.limit(limit)))


def update(session: Session, subscription_id: uuid.UUID, *, url: str | None = None,
           event_types: list[str] | None = None, description: str | None = None,
           enabled: bool | None = None) -> WebhookSubscription:
    """Change what is given. `enabled=True` on a disabled subscription (by request or by failures) switches it on
    again with its failure count reset; its paused deliveries are due at once. `enabled=False` pauses it."""
    sub = get(session, subscription_id, lock=True)
    values: dict = {}
    if url is not None:
        values["url"] = checked_url(url)
    if event_types is not None:
        values["event_types"] = checked_event_types(event_types)
    if description is not None:
        values["description"] = description
    if enabled is True and not sub.enabled:
        values.update(enabled=True, consecutive_failures=0, disabled_reason=None, disabled_at=None)
    elif enabled is False and sub.enabled:
        values.update(enabled=False, disabled_reason=DISABLED_BY_REQUEST, disabled_at=_now(session))
    return _apply(session, sub, values)


def disable_for_failures(session: Session, sub: WebhookSubscription, reason: str) -> None:
    """The delivery worker's switch-off, recorded like any change (actor: the worker's, `system`)."""
    _apply(session, sub, {"enabled": False, "disabled_reason": reason, "disabled_at": _now(session)})


def rotate_secret(session: Session, subscription_id: uuid.UUID) -> Issued:
    """A new secret, used from the next delivery attempt on (a receiver may accept both during the switch)."""
    sub = get(session, subscription_id, lock=True)
    sub.secret = new_secret()
    session.flush()
    session.refresh(sub)
    record(session, ENTITY, sub.id, "update", {"secret": [HIDDEN, HIDDEN]})
    return Issued(sub, sub.secret)


def delete(session: Session, subscription_id: uuid.UUID) -> None:
    """The subscription and its delivery log (cascade); deliveries not yet sent are dropped with it."""
    sub = get(session, subscription_id, lock=True)
    record(session, ENTITY, sub.id, "delete",
           _recorded({"url": [sub.url, None], "event_types": [sub.event_types, None]}))
    session.delete(sub)
    session.flush()


def delivery_log(session: Session, subscription_id: uuid.UUID, limit: int,
                 before: tuple[datetime, uuid.UUID] | None = None) -> list[WebhookDelivery]:
    """The subscription's deliveries, newest first, up to `limit`, before the keyset `before` (created_at, id)."""
    get(session, subscription_id)
    query = (select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
             .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()))
    if before is not None:
        query = query.where(tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(*before))
    return list(session.scalars(query.limit(limit)))


def _apply(session: Session, sub: WebhookSubscription, values: dict) -> WebhookSubscription:
    diff = {k: [getattr(sub, k), v] for k, v in values.items() if getattr(sub, k) != v}
    if not diff:
        return sub
    for key, value in values.items():
        setattr(sub, key, value)
    session.flush()
    session.refresh(sub)   # updated_at is set by the database's trigger
    record(session, ENTITY, sub.id, "update", _recorded(diff))
    return sub

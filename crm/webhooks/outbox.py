"""`enqueue`: queue deliveries of one event in the caller's transaction (the tenant of its session).

A delivery row is created per target subscription and idempotency key; the unique key
(tenant_id, subscription_id, idempotency_key) makes a repeated call — a retried request, a resumed workflow
step, a record event consumed twice — create nothing new. The worker (`crm.webhooks.delivery`) sends it
after the caller's transaction commits; a rolled-back transaction queues nothing.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.services.errors import Invalid, NotFound

MAX_KEY_LENGTH = 200

# `targets` are the subscriptions the event goes to; the inserted rows and the ones an earlier call with the
# same key created are both answered (the statement's snapshot does not see its own inserts, so no row twice).
_ENQUEUE = """
with targets as ({targets}),
inserted as (
  insert into webhook_deliveries (tenant_id, subscription_id, event_type, idempotency_key, payload)
  select app_tenant_id(), t.id, :event_type, :key, cast(:payload as jsonb) from targets t
  on conflict (tenant_id, subscription_id, idempotency_key) do nothing
  returning id
)
select id from inserted
union all
select d.id from webhook_deliveries d join targets t on d.subscription_id = t.id where d.idempotency_key = :key
"""
# every enabled subscription whose event_types hold `*`, the type itself or one of its prefixes (`deal.*`)
_MATCHING = "select id from webhook_subscriptions where enabled and event_types && cast(:patterns as text[])"
_ONE = "select id from webhook_subscriptions where id = :subscription_id"


def patterns_matching(event_type: str) -> list[str]:
    """The `event_types` entries that select `event_type`: `*`, itself, and `a.*` for each prefix `a`
    (`deal.updated` -> `*`, `deal.updated`, `deal.*`)."""
    parts = event_type.split(".")
    return ["*", event_type, *(".".join(parts[:i]) + ".*" for i in range(1, len(parts)))]


def enqueue(session: Session, *, event_type: str, payload: dict, idempotency_key: str,
            subscription_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Queue `payload` as an `event_type` delivery, in `session`'s transaction, for every enabled subscription
    of the session's tenant that wants the type, or for `subscription_id` alone (whatever types it wants:
    a workflow's `send_webhook` step and the test ping name their target; a disabled one keeps the delivery
    until it is enabled again). Returns the ids of the deliveries for this key, created now or by an earlier
    call with the same key, which creates nothing new."""
    for name, value in (("event_type", event_type), ("idempotency_key", idempotency_key)):
        if not value:
            raise Invalid(name, f"{name} must not be empty")
    if len(idempotency_key) > MAX_KEY_LENGTH:
        raise Invalid("idempotency_key", f"must be at most {MAX_KEY_LENGTH} characters")
    params: dict = {"event_type": event_type, "key": idempotency_key, "payload": _json(payload)}
    if subscription_id is None:
        targets, params["patterns"] = _MATCHING, patterns_matching(event_type)
    else:
        targets, params["subscription_id"] = _ONE, subscription_id
        if session.execute(text(_ONE), params).first() is None:
            raise NotFound("webhook", subscription_id)
    return list(session.execute(text(_ENQUEUE.format(targets=targets)), params).scalars())


def _json(payload: dict) -> str:
    """UUIDs, datetimes and decimals of a record's changes as their text forms."""
    return json.dumps(payload, default=str, separators=(",", ":"))

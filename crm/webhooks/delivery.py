"""`deliver_due`: one pass of the delivery worker across tenants — claim, commit, POST, record the outcome.

No database transaction is open during an HTTP call. A pass
1. lists the tenants with deliveries due (the admin connection reads tenant ids only, as the live refresher
   does), oldest due first, and gives each a share of `limit`;
2. per tenant, in its RLS session, locks due rows of enabled subscriptions (`for update skip locked`: workers
   share the queue without waiting on each other), counts the attempt and moves `next_attempt_at` forward by
   a lease, and commits: another worker skips the row until the lease runs out, and a worker killed during the
   call leaves it due again then (at-least-once; receivers dedupe on `CRM-Delivery-Id`);
3. POSTs each claimed delivery (a few at once), signed with the subscription's current secret, to the address
   its URL resolves to now, checked again against the SSRF rule (`crm.webhooks.targets`), redirects not followed;
4. records the outcome in a new transaction, only if the row still holds this attempt: a 2xx is `delivered`
   and resets the subscription's failure count; anything else is `failed` with the next attempt after an
   exponential backoff, or `dead` after `CRM_WEBHOOK_MAX_ATTEMPTS`, and counts against the subscription, which
   is disabled with its reason after `CRM_WEBHOOK_DISABLE_AFTER` failed attempts in a row (its deliveries wait,
   and go out when it is enabled again).
"""

from __future__ import annotations

import json
import logging
import math
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import text

from crm.db.engine import admin_engine, tenant_session
from crm.db.models import WebhookSubscription
from crm.settings import get_settings
from crm.webhooks import signing, subscriptions, targets

log = logging.getLogger(__name__)

USER_AGENT = "IntelligenceCRM-Webhooks/1.0"
PARALLEL = 8                 # HTTP calls in flight at once per pass
LEASE_GRACE_SECONDS = 60     # a claim outlives the call's timeout by this much before another worker may retry
MAX_BACKOFF_SECONDS = 86400
ANSWER_EXCERPT = 300         # characters of a failed answer's body kept in last_error

# Who has work due: tenant ids only, the oldest due first; deliveries of disabled subscriptions wait.
_DUE_TENANTS = text("""
select cast(d.tenant_id as text) from webhook_deliveries d
  join webhook_subscriptions s on s.tenant_id = d.tenant_id and s.id = d.subscription_id
 where d.status in ('pending', 'failed') and d.next_attempt_at <= now() and s.enabled
 group by d.tenant_id order by min(d.next_attempt_at)
""")
# Two statements, as crm.live_queue explains: the lock, then the claim of exactly the rows locked.
_LOCK_DUE = text("""
select d.id from webhook_deliveries d
  join webhook_subscriptions s on s.tenant_id = d.tenant_id and s.id = d.subscription_id
 where d.status in ('pending', 'failed') and d.next_attempt_at <= now() and s.enabled
 order by d.next_attempt_at limit :n
   for update of d skip locked
""")
_CLAIM = text("""
update webhook_deliveries d
   set attempts = d.attempts + 1, last_attempt_at = clock_timestamp(),
       next_attempt_at = clock_timestamp() + make_interval(secs => :lease)
  from webhook_subscriptions s
 where d.id = any(cast(:ids as uuid[])) and s.tenant_id = d.tenant_id and s.id = d.subscription_id
returning d.id, d.subscription_id, d.event_type, d.payload, d.created_at, d.attempts, s.url, s.secret
""")
_DELIVERED = text("""
update webhook_deliveries set status = 'delivered', delivered_at = clock_timestamp(), next_attempt_at = null,
       last_status_code = :code, last_error = null
 where id = :id and attempts = :attempts and status in ('pending', 'failed')
""")
_FAILED = text("""
update webhook_deliveries
   set status = :status, last_status_code = :code, last_error = :error,
       next_attempt_at = case when :status = 'dead' then null
                              else clock_timestamp() + make_interval(secs => :wait) end
 where id = :id and attempts = :attempts and status in ('pending', 'failed')
""")
_RESET = text("update webhook_subscriptions set consecutive_failures = 0 "
              "where id = :id and consecutive_failures <> 0")
_COUNT_FAILURE = text("update webhook_subscriptions set consecutive_failures = consecutive_failures + 1 "
                      "where id = :id returning consecutive_failures, enabled")


@dataclass(frozen=True)
class Claim:
    tenant_id: str
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_type: str
    payload: dict
    created_at: datetime
    attempts: int   # this attempt's number
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None   # None: delivered

    @property
    def delivered(self) -> bool:
        return self.error is None


def body_of(claim: Claim) -> bytes:
    """The JSON a receiver gets; the same bytes at every attempt of a delivery (only the signature's t moves)."""
    return json.dumps({"id": str(claim.id), "type": claim.event_type, "created_at": claim.created_at.isoformat(),
                       "data": claim.payload}, separators=(",", ":")).encode()


def backoff_seconds(attempts: int) -> float:
    """Wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base, ... plus up to 10% jitter."""
    base = get_settings().crm_webhook_backoff_seconds
    return min(MAX_BACKOFF_SECONDS, base * 2.0 ** (attempts - 1)) * (1 + random.uniform(0, 0.1))


def due_tenants() -> list[str]:
    with admin_engine().connect() as conn:
        return [row[0] for row in conn.execute(_DUE_TENANTS)]


def claim(tenant_id: str, limit: int) -> list[Claim]:
    """Take up to `limit` of the tenant's due deliveries for one attempt each (committed on return)."""
    lease = get_settings().crm_webhook_timeout_seconds + LEASE_GRACE_SECONDS
    with tenant_session(tenant_id) as session:
        ids = list(session.execute(_LOCK_DUE, {"n": limit}).scalars())
        if not ids:
            return []
        rows = session.execute(_CLAIM, {"ids": ids, "lease": lease}).all()
    return [Claim(tenant_id, *row) for row in rows]


def post(client: httpx.Client, claim: Claim) -> Outcome:
    """One attempt: the target checked again and pinned to the checked address, the body signed now."""
    try:
        target = targets.check(claim.url)
    except targets.TargetRefused as exc:
        return Outcome(None, f"not sent: {exc}")
    body = body_of(claim)
    headers = {"Host": target.host_header, "Content-Type": "application/json", "User-Agent": USER_AGENT,
               signing.HEADER: signing.sign(claim.secret, body), "CRM-Delivery-Id": str(claim.id),
               "CRM-Event": claim.event_type}
    extensions = {"sni_hostname": target.sni_hostname} if target.url.scheme == "https" else {}
    try:
        with client.stream("POST", target.pinned_url, content=body, headers=headers,
                           extensions=extensions) as response:
            if 200 <= response.status_code < 300:
                return Outcome(response.status_code, None)
            excerpt = _excerpt(response)
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc or 'no answer'}")
    redirect = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
    return Outcome(response.status_code, f"HTTP {response.status_code}{redirect}" + (f": {excerpt}" if excerpt else ""))


def _excerpt(response: httpx.Response) -> str:
    taken = b""
    for chunk in response.iter_bytes():
        taken += chunk
        if len(taken) >= ANSWER_EXCERPT:
            break
    return taken[:ANSWER_EXCERPT].decode("utf-8", "replace").strip()


def record_outcome(claim: Claim, outcome: Outcome) -> None:
    """Write the attempt's outcome, unless the row moved on meanwhile (its lease ran out and another worker
    took the next attempt): that worker's outcome is the one to keep."""
    settings = get_settings()
    with tenant_session(claim.tenant_id) as session:
        params = {"id": claim.id, "attempts": claim.attempts, "code": outcome.status_code}
        if outcome.delivered:
            if session.execute(_DELIVERED, params).rowcount:
                session.execute(_RESET, {"id": claim.subscription_id})
            return
        dead = claim.attempts >= settings.crm_webhook_max_attempts
        stored = session.execute(_FAILED, {**params, "error": outcome.error, "status": "dead" if dead else "failed",
                                           "wait": 0.0 if dead else backoff_seconds(claim.attempts)}).rowcount
        if not stored:
            return
        counted = session.execute(_COUNT_FAILURE, {"id": claim.subscription_id}).first()
        limit = settings.crm_webhook_disable_after
        if counted is not None and counted.enabled and counted.consecutive_failures >= limit:
            sub = session.get(WebhookSubscription, claim.subscription_id, populate_existing=True)
            subscriptions.disable_for_failures(session, sub, _disabled_reason(counted.consecutive_failures, outcome))
            log.warning("webhook %s of tenant %s disabled after %d failed attempts in a row",
                        claim.subscription_id, claim.tenant_id, counted.consecutive_failures)


def _disabled_reason(failures: int, outcome: Outcome) -> str:
    return (f"disabled after {failures} failed delivery attempts in a row (last: {outcome.error}); fix the "
            "endpoint, then enable it again (PATCH enabled=true): waiting deliveries are then sent")


def attempt(client: httpx.Client, claim: Claim) -> bool:
    try:
        outcome = post(client, claim)
    except Exception as exc:   # a bug or an odd answer must not lose the attempt: record it as a failure
        log.exception("webhook delivery %s: attempt failed unexpectedly", claim.id)
        outcome = Outcome(None, f"{type(exc).__name__}: {exc}")
    try:
        record_outcome(claim, outcome)
    except Exception:   # e.g. the database restarting: the lease runs out and the delivery is tried again
        log.exception("webhook delivery %s: recording the outcome of attempt %d failed", claim.id, claim.attempts)
    return outcome.delivered


def deliver_due(limit: int = 100) -> int:
    """One pass: attempt up to `limit` due deliveries across tenants, each tenant getting an equal share of the
    pass (what one leaves unused goes to the next); returns how many were attempted (0: nothing was due)."""
    tenants = due_tenants()
    claims: list[Claim] = []
    for position, tenant_id in enumerate(tenants):
        left = limit - len(claims)
        if left <= 0:
            break
        claims += claim(tenant_id, max(1, math.ceil(left / (len(tenants) - position))))
    if not claims:
        return 0
    timeout = get_settings().crm_webhook_timeout_seconds
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client, \
            ThreadPoolExecutor(max_workers=min(PARALLEL, len(claims)), thread_name_prefix="webhook") as pool:
        list(pool.map(lambda c: attempt(client, c), claims))
    return len(claims)

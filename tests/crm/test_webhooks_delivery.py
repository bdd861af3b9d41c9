"""The delivery worker against a real receiver on 127.0.0.1: signatures, retries, dead letters, disabling,
no transaction held during the HTTP call, the SSRF rule at send time."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from crm.db.engine import admin_engine, tenant_session
from crm.db.models import WebhookDelivery, WebhookSubscription
from crm.webhooks import enqueue, subscriptions
from crm.webhooks.delivery import deliver_due
from tests.webhook_receiver import deliver_until, receiver, webhook_settings  # noqa: F401 (fixture)


def _subscribe(tenant_id, url, event_types=("*",)) -> subscriptions.Issued:
    with tenant_session(tenant_id) as s:
        return subscriptions.create(s, url, list(event_types))


def _enqueue(tenant_id, key, event_type="deal.updated", payload=None, subscription_id=None) -> uuid.UUID:
    with tenant_session(tenant_id) as s:
        [delivery] = enqueue(s, event_type=event_type, payload=payload or {"deal_id": key},
                             idempotency_key=key, subscription_id=subscription_id)
    return delivery


def _delivery(tenant_id, delivery_id) -> WebhookDelivery:
    with tenant_session(tenant_id) as s:
        return s.get(WebhookDelivery, delivery_id)


def _subscription(tenant_id, sub_id) -> WebhookSubscription:
    with tenant_session(tenant_id) as s:
        return s.get(WebhookSubscription, sub_id)


def test_every_delivery_is_signed_and_carries_its_headers(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    with receiver() as hook:
        issued = _subscribe(tid, hook.url)
        hook.secret = issued.secret
        ids = [_enqueue(tid, f"event:{i}", payload={"n": i, "changes": {"amount": [1, 2]}}) for i in range(5)]
        deliver_until(lambda: len(hook.received) == 5)
    assert [r.signature_error for r in hook.received] == [None] * 5
    assert sorted(r.json["id"] for r in hook.received) == sorted(str(i) for i in ids)
    for got in hook.received:
        assert got.path == "/hook"
        assert got.headers["CRM-Delivery-Id"] == got.json["id"]
        assert got.headers["CRM-Event"] == got.json["type"] == "deal.updated"
        assert got.headers["User-Agent"].startswith("IntelligenceCRM-Webhooks/")
        assert got.headers["Content-Type"] == "application/json"
        assert set(got.json) == {"id", "type", "created_at", "data"} and "changes" in got.json["data"]
    for delivery_id in ids:
        row = _delivery(tid, delivery_id)
        assert (row.status, row.attempts, row.last_status_code, row.next_attempt_at) == ("delivered", 1, 200, None)
        assert row.delivered_at is not None


def test_two_500s_then_200_is_three_attempts_in_the_log(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    with receiver(statuses=[500, 500]) as hook:
        issued = _subscribe(tid, hook.url)
        hook.secret = issued.secret
        delivery_id = _enqueue(tid, "event:retry")
        deliver_until(lambda: _delivery(tid, delivery_id).status == "delivered")
    assert len(hook.received) == 3
    assert {r.json["id"] for r in hook.received} == {str(delivery_id)}
    assert [r.signature_error for r in hook.received] == [None] * 3   # each attempt signed anew
    assert len({r.headers["CRM-Signature"] for r in hook.received}) >= 1
    with tenant_session(tid) as s:
        [logged] = subscriptions.delivery_log(s, issued.subscription.id, 10)
    assert (logged.id, logged.status, logged.attempts, logged.last_status_code) == (delivery_id, "delivered", 3, 200)
    assert _subscription(tid, issued.subscription.id).consecutive_failures == 0   # the success reset the count


def test_a_failed_attempt_waits_for_its_backoff(tenant, webhook_settings):  # noqa: F811
    webhook_settings(backoff_seconds=3600)
    tid = tenant["tenant_id"]
    with receiver(statuses=[503]) as hook:
        delivery_id = _enqueue(tid, "event:later", subscription_id=_subscribe(tid, hook.url).subscription.id)
        deliver_until(lambda: len(hook.received) == 1)
        deliver_due()   # not due for an hour: nothing is sent again
        assert len(hook.received) == 1
    row = _delivery(tid, delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, 503)
    assert "HTTP 503" in row.last_error and "receiver says no" in row.last_error
    waited = (row.next_attempt_at - row.last_attempt_at).total_seconds()
    assert 3600 <= waited <= 3600 * 1.1 + 1


def test_a_delivery_is_dead_after_the_last_attempt(tenant, webhook_settings):  # noqa: F811
    webhook_settings(max_attempts=3, disable_after=100)
    tid = tenant["tenant_id"]
    with receiver(statuses=[500] * 10) as hook:
        delivery_id = _enqueue(tid, "event:dead", subscription_id=_subscribe(tid, hook.url).subscription.id)
        deliver_until(lambda: _delivery(tid, delivery_id).status == "dead")
        for _ in range(3):
            deliver_due()
    assert len(hook.received) == 3
    row = _delivery(tid, delivery_id)
    assert (row.attempts, row.next_attempt_at, row.last_status_code) == (3, None, 500)


def test_consecutive_failures_disable_the_subscription_with_its_reason(tenant, webhook_settings):  # noqa: F811
    webhook_settings(max_attempts=2, disable_after=4)
    tid = tenant["tenant_id"]
    with receiver(statuses=[500] * 4) as hook:
        issued = _subscribe(tid, hook.url)
        hook.secret = issued.secret
        sub_id = issued.subscription.id
        first = [_enqueue(tid, f"event:{i}") for i in range(2)]
        deliver_until(lambda: not _subscription(tid, sub_id).enabled)
        sub = _subscription(tid, sub_id)
        assert sub.consecutive_failures == 4 and sub.disabled_at is not None
        assert "4 failed delivery attempts in a row" in sub.disabled_reason and "HTTP 500" in sub.disabled_reason
        # disabled: new deliveries are queued but wait
        waiting = _enqueue(tid, "event:while-off", subscription_id=sub_id)
        for _ in range(3):
            deliver_due()
        assert len(hook.received) == 4 and _delivery(tid, waiting).status == "pending"
        # switched on again: the count is reset and the waiting delivery goes out
        with tenant_session(tid) as s:
            on = subscriptions.update(s, sub_id, enabled=True)
            assert (on.enabled, on.consecutive_failures, on.disabled_reason, on.disabled_at) == (True, 0, None, None)
        deliver_until(lambda: _delivery(tid, waiting).status == "delivered")
    assert [r.signature_error for r in hook.received] == [None] * 5
    assert {_delivery(tid, d).status for d in first} == {"dead"}


def test_no_transaction_holds_the_delivery_during_the_http_call(tenant, webhook_settings):  # noqa: F811
    """While the receiver is answering, another session can lock the row at once (NOWAIT): the claim committed
    before the call, and the outcome is written after it."""
    tid = tenant["tenant_id"]
    seen: list[tuple] = []

    def look(got):
        with admin_engine().begin() as conn:
            seen.append(conn.execute(text(
                "select status, attempts from webhook_deliveries where id = :id for update nowait"),
                {"id": got.json["id"]}).one())
            seen.append(conn.execute(text(
                "select count(*) from pg_stat_activity where state like 'idle in transaction%' "
                "and usename = 'crm_app'")).scalar())

    with receiver() as hook:
        hook.on_request = look
        delivery_id = _enqueue(tid, "event:tx", subscription_id=_subscribe(tid, hook.url).subscription.id)
        deliver_until(lambda: _delivery(tid, delivery_id).status == "delivered")
    assert seen[0] == ("pending", 1)   # claimed and committed: the attempt is counted before the call
    assert seen[1] == 0


def test_the_ssrf_rule_is_checked_again_at_send_time(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    with receiver() as hook:
        sub_id = _subscribe(tid, hook.url).subscription.id   # allowed when saved
        webhook_settings(allow_private_targets="false")      # the operator withdraws it
        delivery_id = _enqueue(tid, "event:ssrf", subscription_id=sub_id)
        deliver_until(lambda: _delivery(tid, delivery_id).attempts == 1 and
                      _delivery(tid, delivery_id).status == "failed")
    assert hook.received == []
    row = _delivery(tid, delivery_id)
    assert row.last_status_code is None and "not sent" in row.last_error and "loopback" in row.last_error


def test_redirects_are_not_followed(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    with receiver(statuses=[302]) as hook:
        delivery_id = _enqueue(tid, "event:redirect", subscription_id=_subscribe(tid, hook.url).subscription.id)
        deliver_until(lambda: _delivery(tid, delivery_id).attempts == 1 and
                      _delivery(tid, delivery_id).status == "failed")
    assert len(hook.received) == 1
    assert "redirects are not followed" in _delivery(tid, delivery_id).last_error


def test_two_workers_never_send_one_delivery_twice(tenant, webhook_settings):  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    tid = tenant["tenant_id"]
    with receiver() as hook:
        sub_id = _subscribe(tid, hook.url).subscription.id
        ids = [_enqueue(tid, f"event:race:{i}", subscription_id=sub_id) for i in range(30)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: deliver_due(10), range(4)))
        deliver_until(lambda: len(hook.received) >= 30)
    assert sorted(r.json["id"] for r in hook.received) == sorted(str(i) for i in ids)
    with tenant_session(tid) as s:
        rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id)).all()
    assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}

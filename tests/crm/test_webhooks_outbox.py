"""`enqueue`: idempotent per (subscription, key), fan-out by event type, in the caller's transaction, per tenant."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from crm.db.engine import tenant_session
from crm.db.models import WebhookDelivery
from crm.services.errors import Invalid, NotFound
from crm.webhooks import enqueue, subscriptions
from crm.webhooks.outbox import patterns_matching
from tests.webhook_receiver import webhook_settings  # noqa: F401 (fixture)

URL = "http://127.0.0.1:9/hook"


def _subscribe(tenant_id, event_types, enabled=True) -> uuid.UUID:
    with tenant_session(tenant_id) as s:
        return subscriptions.create(s, URL, event_types, enabled=enabled).subscription.id


def _deliveries(tenant_id) -> list[WebhookDelivery]:
    with tenant_session(tenant_id) as s:
        return list(s.scalars(select(WebhookDelivery)))


def test_patterns_of_an_event_type():
    assert patterns_matching("deal.updated") == ["*", "deal.updated", "deal.*"]
    assert patterns_matching("ping") == ["*", "ping"]


def test_enqueue_twice_with_one_key_makes_one_delivery(tenant, webhook_settings):  # noqa: F811
    sub = _subscribe(tenant["tenant_id"], ["*"])
    with tenant_session(tenant["tenant_id"]) as s:
        first = enqueue(s, event_type="deal.updated", payload={"a": 1}, idempotency_key="event:1")
    with tenant_session(tenant["tenant_id"]) as s:
        again = enqueue(s, event_type="deal.updated", payload={"a": 2}, idempotency_key="event:1")
        same_txn = enqueue(s, event_type="deal.updated", payload={"a": 3}, idempotency_key="event:1")
    assert len(first) == 1 and again == first and same_txn == first
    [row] = _deliveries(tenant["tenant_id"])
    assert (row.id, row.subscription_id, row.payload, row.status) == (first[0], sub, {"a": 1}, "pending")


def test_fan_out_goes_to_enabled_subscriptions_whose_types_match(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    everything, exact, prefix = _subscribe(tid, ["*"]), _subscribe(tid, ["deal.updated"]), _subscribe(tid, ["deal.*"])
    other, _off = _subscribe(tid, ["contact.created", "lead_score.*"]), _subscribe(tid, ["*"], enabled=False)
    with tenant_session(tid) as s:
        deal = enqueue(s, event_type="deal.updated", payload={}, idempotency_key="k1")
        score = enqueue(s, event_type="lead_score.changed", payload={}, idempotency_key="k2")
        nobody = enqueue(s, event_type="task.deleted", payload={}, idempotency_key="k3")
    by_id = {d.id: d.subscription_id for d in _deliveries(tid)}
    assert {by_id[i] for i in deal} == {everything, exact, prefix}
    assert {by_id[i] for i in score} == {everything, other}
    assert {by_id[i] for i in nobody} == {everything}


def test_a_named_subscription_gets_the_delivery_whatever_its_types(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    sub = _subscribe(tid, ["contact.created"])
    with tenant_session(tid) as s:
        [delivery] = enqueue(s, event_type="workflow.step", payload={"run": 1}, idempotency_key="run:1:step",
                             subscription_id=sub)
    assert [(d.id, d.subscription_id) for d in _deliveries(tid)] == [(delivery, sub)]


def test_a_rolled_back_transaction_queues_nothing(tenant, webhook_settings):  # noqa: F811
    tid = tenant["tenant_id"]
    _subscribe(tid, ["*"])
    with pytest.raises(RuntimeError), tenant_session(tid) as s:
        enqueue(s, event_type="deal.created", payload={}, idempotency_key="k")
        raise RuntimeError("the caller's write failed")
    assert _deliveries(tid) == []


def test_empty_key_is_refused(tenant, webhook_settings):  # noqa: F811
    with tenant_session(tenant["tenant_id"]) as s, pytest.raises(Invalid, match="idempotency_key"):
        enqueue(s, event_type="deal.created", payload={}, idempotency_key="")


def test_fan_out_and_named_targets_stay_inside_the_session_tenant(tenant, other_tenant,
                                                                  webhook_settings):  # noqa: F811
    mine, theirs = _subscribe(tenant["tenant_id"], ["*"]), _subscribe(other_tenant["tenant_id"], ["*"])
    with tenant_session(tenant["tenant_id"]) as s:
        ids = enqueue(s, event_type="deal.created", payload={"x": 1}, idempotency_key="event:7")
    assert [d.subscription_id for d in _deliveries(tenant["tenant_id"])] == [mine]
    assert len(ids) == 1 and _deliveries(other_tenant["tenant_id"]) == []
    with tenant_session(tenant["tenant_id"]) as s, pytest.raises(NotFound):
        enqueue(s, event_type="ping", payload={}, idempotency_key="p", subscription_id=theirs)
    with tenant_session(tenant["tenant_id"]) as s:   # RLS: the other agency's rows are not there at all
        assert s.execute(text("select count(*) from webhook_subscriptions where id = :i"), {"i": theirs}).scalar() == 0
        assert s.execute(text("select count(*) from webhook_deliveries where subscription_id = :i"),
                         {"i": theirs}).scalar() == 0

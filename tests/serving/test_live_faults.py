"""Faults and bad input on the live path (issue 13, point 6), on real PostgreSQL, the real compiled dbt SQL and
real champion models: a burst of 10,000 events through `POST /events` while the score lane runs loses and
double-counts none; a refresher process killed mid-batch and restarted catches up with nothing lost or done
twice; malformed events are refused with a reason and never hold the queue; two agencies' bursts stay apart."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.cli.children import stop_child
from crm.db.engine import tenant_session
from crm.live_features import FeatureQueries, compute
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.services import companies, contacts
from crm.settings import get_settings
from serving.live.refresh import refresh_tenant
from serving.live.worker import Refresher
from serving.publication import feature_records
from tests import ml_support
from tests.api.conftest import API, assert_problem
from tests.conftest import make_tenant

# event type -> the lead feature counting it (`<name>_<days>d`), as the dbt macro activity_window_features names it
COUNTED = {"email_sent": "emails_sent", "email_opened": "emails_opened", "email_clicked": "emails_clicked",
           "email_replied": "emails_replied", "web_visit": "web_visits", "form_submit": "form_submits",
           "meeting": "meetings", "call": "calls"}
WINDOWS = (7, 30, 90)
# ages in days, each well inside one window band so the count cannot hinge on the second of the check
AGE_BANDS = ((0.01, 6.0), (8.0, 28.0), (32.0, 85.0), (95.0, 170.0))


@pytest.fixture(scope="module")
def queries() -> FeatureQueries:
    from pipelines.lib.live_sql import feature_queries

    ml_support.trained_models(str(get_settings().home))  # champions for lead_score and churn_risk
    return feature_queries()


@pytest.fixture(scope="module")
def client():
    from app.web import app

    with TestClient(app) as c:
        yield c


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _leads(tenant: str, n: int, company_every: int | None = 5) -> list[uuid.UUID]:
    """`n` open leads, every `company_every` of them at one company (so accounts are touched too; None: none)."""
    with tenant_session(tenant) as s:
        ids, company = [], None
        for i in range(n):
            if company_every and i % company_every == 0:
                company = companies.create(s, CompanyCreate(name=f"Co {i}")).id
            ids.append(contacts.create(s, ContactCreate(email=f"{uuid.uuid4().hex[:10]}@example.com",
                                                        company_id=company)).id)
        return ids


def _post_events(client: TestClient, headers: dict, events: list[dict]):
    return client.post(f"{API}/events", json={"events": events}, headers=headers)


def _drain_score_lane(tenant: str, queries: FeatureQueries) -> int:
    claimed = 0
    while (batch := refresh_tenant(tenant, queries)).claimed:
        claimed += batch.claimed
    return claimed


def _queued(tenant: str) -> int:
    with tenant_session(tenant) as s:
        return s.execute(text("select count(*) from live_refresh_queue")).scalar_one()


def _published(tenant: str, entity_type: str = "lead") -> dict[uuid.UUID, dict]:
    with tenant_session(tenant) as s:
        rows = s.execute(text("select entity_id, as_of_date, features, published_at from analytics.features_latest "
                              "where entity_type = :e"), {"e": entity_type}).mappings().all()
        return {r["entity_id"]: dict(r) for r in rows}


def _assert_published_equals_compute(tenant: str, queries: FeatureQueries, entity_type: str, key: str,
                                     ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Each entity's published feature row equals the live SQL run again for it at the instant it was published
    (the same function every path computes features with, so nothing was half-applied or counted twice)."""
    published = _published(tenant, entity_type)
    assert set(ids) <= set(published), f"{len(set(ids) - set(published))} {entity_type}s were never refreshed"
    with tenant_session(tenant) as s:
        for entity_id in ids:
            row = published[entity_id]
            frame = compute(s, queries, entity_type, [entity_id], row["published_at"])
            (expected,) = feature_records(frame, key, row["published_at"])
            assert json.loads(expected["features"]) == row["features"], entity_id
            assert expected["as_of_date"] == row["as_of_date"]
    return published


def _event(contact_id, kind: str, age_days: float, external_id: str, now: dt.datetime) -> dict:
    return {"type": kind, "occurred_at": (now - dt.timedelta(days=age_days)).isoformat(), "external_id": external_id,
            "source": "burst", "contact_id": str(contact_id)}


def _burst(tenant: dict, client: TestClient, leads: list[uuid.UUID], n: int, seed: int,
           resend_share: float = 0.05, batch_size: int = 500, threads: int = 4) -> tuple[Counter, int]:
    """Send `n` events (a share of them resends of earlier external ids) in batches from a few threads; the
    counts of distinct events per (contact, feature, window) and the number of distinct events."""
    rng, now = random.Random(seed), _now()
    unique = int(n * (1 - resend_share))
    events = []
    for i in range(unique):
        low, high = rng.choice(AGE_BANDS)
        events.append(_event(rng.choice(leads), rng.choice(sorted(COUNTED)), rng.uniform(low, high),
                             f"{seed}-{i}", now))
    resends = [dict(rng.choice(events)) for _ in range(n - unique)]
    expected = Counter()
    for e in events:
        age = (now - dt.datetime.fromisoformat(e["occurred_at"])).total_seconds() / 86400
        for days in WINDOWS:
            if age <= days:
                expected[(uuid.UUID(e["contact_id"]), COUNTED[e["type"]], days)] += 1
    sent = events + resends
    rng.shuffle(sent)  # a resend may even arrive before its original, in another thread's batch
    batches = [sent[i:i + batch_size] for i in range(0, len(sent), batch_size)]
    with ThreadPoolExecutor(threads) as pool:
        responses = list(pool.map(lambda b: _post_events(client, tenant["headers"], b), batches))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200][:1]
    accepted = sum(r.json()["accepted"] for r in responses)
    duplicates = sum(r.json()["duplicates"] for r in responses)
    assert (accepted, duplicates) == (unique, n - unique)
    assert sum(r.json()["rejected"] for r in responses) == 0
    return expected, unique


def _assert_counts(published: dict, expected: Counter, leads: list[uuid.UUID]) -> None:
    for lead in leads:
        features = published[lead]["features"]
        for name in COUNTED.values():
            for days in WINDOWS:
                assert features[f"{name}_{days}d"] == expected[(lead, name, days)], (lead, name, days)


def test_a_burst_of_10000_events_while_the_score_lane_runs_loses_and_double_counts_none(queries, client):
    tenant = make_tenant("Burst")
    leads = _leads(tenant["tenant_id"], 50)
    _drain_score_lane(tenant["tenant_id"], queries)

    # the score lane consumes while the burst is written: claims interleave with the writers' commits
    stop = threading.Event()
    lane = threading.Thread(target=Refresher(queries, poll_seconds=0.5).lane_loop, args=("score", stop))
    lane.start()
    try:
        expected, distinct = _burst(tenant, client, leads, 10_000, seed=13)
    finally:
        stop.set()
        lane.join(60)
    assert not lane.is_alive()
    _drain_score_lane(tenant["tenant_id"], queries)
    assert _queued(tenant["tenant_id"]) == 0

    with tenant_session(tenant["tenant_id"]) as s:
        stored = s.execute(text("select count(*) from activities where source = 'burst'")).scalar_one()
    assert stored == distinct
    published = _assert_published_equals_compute(tenant["tenant_id"], queries, "lead", "contact_id", leads)
    _assert_counts(published, expected, leads)
    with tenant_session(tenant["tenant_id"]) as s:
        companies_of_leads = set(s.execute(text("select company_id from contacts where id = any(:ids)"),
                                           {"ids": leads}).scalars())
        scored = s.execute(text("select entity_id, scored_at from scores where entity_type = 'lead'")).all()
    # every lead's current score is the one computed from its published features, in the same refresh
    assert {r.entity_id: r.scored_at for r in scored} == {i: published[i]["published_at"] for i in leads}
    assert len(companies_of_leads) == 10


def test_malformed_events_are_refused_with_a_reason_and_never_hold_the_queue(queries, client, other_tenant):
    tenant = make_tenant("Bad input")
    good, other = _leads(tenant["tenant_id"], 2), _leads(other_tenant["tenant_id"], 1)[0]
    _drain_score_lane(tenant["tenant_id"], queries)
    now = _now()

    # a request that is not a batch of events at all: one problem+json naming the field, nothing stored
    for body in ({"events": [{"type": "fax", "occurred_at": now.isoformat(), "external_id": "x",
                              "contact_id": str(good[0])}]},
                 {"events": [{"type": "call", "external_id": "no-time", "contact_id": str(good[0])}]},
                 {"events": []}, {"event": []}):
        problem = assert_problem(client.post(f"{API}/events", json=body, headers=tenant["headers"]), 422)
        assert problem["detail"]
    assert_problem(client.post(f"{API}/events", content=b"{not json", headers={
        **tenant["headers"], "content-type": "application/json"}), 422)
    # a NUL the database cannot store is named with its place, not one anonymous error for the batch
    for field, value in (("body", "a\u0000b"), ("properties", {"path": "/pricing\u0000"})):
        nul = {**_event(good[0], "call", 0.5, f"nul-{field}", now), field: value}
        r = client.post(f"{API}/events", json={"events": [_event(good[0], "call", 0.5, "fine", now), nul]},
                        headers=tenant["headers"])
        assert f"events.1.{field}" in assert_problem(r, 422)["detail"] and "NUL" in r.json()["detail"]
    assert _queued(tenant["tenant_id"]) == 0

    # events that parse but cannot be stored: each rejected with its reason, the good ones beside them kept
    batch = [
        _event(good[0], "email_replied", 0.5, "ok-1", now),
        _event(other, "meeting", 0.5, "other-tenants-contact", now),
        _event(uuid.uuid4(), "meeting", 0.5, "unknown-contact", now),
        {**_event(good[1], "call", 0, "from-the-future", now), "occurred_at": "2099-12-31T00:00:00Z"},
        {**_event(good[1], "call", 0, "before-1900", now), "occurred_at": "1850-01-01T00:00:00Z"},
        {"type": "call", "occurred_at": now.isoformat(), "external_id": "nobody"},
        {**_event(good[1], "web_visit", 0.2, "odd-properties", now), "properties": {"path": {"not": "a string"},
                                                                                     "n": [1, None, "x"]}},
        _event(good[1], "form_submit", 0.5, "ok-2", now),
    ]
    r = _post_events(client, tenant["headers"], batch)
    assert r.status_code == 200, r.text
    outcomes = r.json()["results"]
    assert [o["status"] for o in outcomes] == ["accepted", "rejected", "rejected", "rejected", "rejected",
                                               "rejected", "accepted", "accepted"]
    reasons = [o["reason"] for o in outcomes if o["status"] == "rejected"]
    assert "not a contact of this tenant" in reasons[0] and "not a contact of this tenant" in reasons[1]
    assert "future" in reasons[2] and "1900" in reasons[3] and "required" in reasons[4]

    # the accepted events are refreshed, this batch and the next; the other agency saw nothing
    _drain_score_lane(tenant["tenant_id"], queries)
    later = _post_events(client, tenant["headers"], [_event(good[0], "call", 0.1, "ok-3", now)])
    assert later.json()["accepted"] == 1
    assert _drain_score_lane(tenant["tenant_id"], queries) >= 1 and _queued(tenant["tenant_id"]) == 0
    published = _assert_published_equals_compute(tenant["tenant_id"], queries, "lead", "contact_id", good)
    assert published[good[0]]["features"]["emails_replied_7d"] == 1
    assert published[good[0]]["features"]["calls_7d"] == 1
    assert published[good[1]]["features"]["form_submits_7d"] == 1
    assert published[good[1]]["features"]["web_visits_7d"] == 1
    assert published[good[1]]["features"]["calls_90d"] == 0
    with tenant_session(other_tenant["tenant_id"]) as s:
        assert s.execute(text("select count(*) from activities")).scalar_one() == 0


# ---- a refresher process killed mid-batch ---------------------------------------------------------------------

def _start_refresher(log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli.main", "refresher", "--poll-seconds", "1"],
                            env={**os.environ, "CRM_HOME": str(get_settings().home)}, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)


def _progress(tenant: str) -> dict:
    """Queue rows left and leads refreshed, read in ONE statement (one snapshot): a committed batch moves rows
    from the first to the second together, so at every instant they add up to the backlog."""
    with tenant_session(tenant) as s:
        return dict(s.execute(text(
            "select (select count(*) from live_refresh_queue) as queued, "
            "(select count(distinct entity_id) from score_history where entity_type = 'lead') as refreshed, "
            "(select count(*) from score_history where entity_type = 'lead') as history_rows")).mappings().one())


def _batch_in_flight() -> bool:
    """A crm_app transaction that has written (claimed queue rows) and not committed: the refresher mid-batch."""
    from crm.db.engine import APP_ROLE, admin_engine

    with admin_engine().connect() as conn:
        return bool(conn.execute(text("select count(*) from pg_stat_activity where usename = :r "
                                      "and backend_xid is not null and pid <> pg_backend_pid()"),
                                 {"r": APP_ROLE}).scalar_one())


def _wait(condition, seconds: float, what: str, proc: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"the refresher exited: {log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f}s; log: {log_path.read_text()[-3000:]}"
        time.sleep(0.02)


def test_a_refresher_killed_mid_batch_catches_up_after_a_restart_with_nothing_lost_or_done_twice(queries, tmp_path):
    tenant = make_tenant("Killed")["tenant_id"]
    backlog = 2500   # one queued change per lead (no company): five batches of the refresher's 500
    leads = _leads(tenant, backlog, company_every=None)
    start = _progress(tenant)
    assert start == {"queued": backlog, "refreshed": 0, "history_rows": 0}
    log_path = tmp_path / "refresher.log"
    killed = restarted = None
    with log_path.open("ab") as log:
        try:
            killed = _start_refresher(log)
            _wait(lambda: _progress(tenant)["queued"] < start["queued"] and _batch_in_flight(), 300,
                  "a second batch in flight after a first one committed", killed, log_path)
            killed.send_signal(signal.SIGKILL)
            killed.wait(30)
            # what the killed process committed is whole: every row it took off the queue was refreshed once
            after_kill = _progress(tenant)
            assert after_kill["queued"] > 0, "the backlog was drained before the kill: no batch was interrupted"
            assert after_kill["refreshed"] == after_kill["history_rows"]
            assert after_kill["queued"] + after_kill["refreshed"] == backlog

            restarted = _start_refresher(log)
            _wait(lambda: _progress(tenant)["queued"] == 0, 300, "the backlog drained after the restart",
                  restarted, log_path)
        finally:
            for proc in (killed, restarted):
                if proc is not None:
                    if proc is killed and proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    stop_child(proc, grace=30)
    assert restarted.returncode == 0, log_path.read_text()[-3000:]   # SIGTERM: a normal exit
    done = _progress(tenant)
    assert done == {"queued": 0, "refreshed": backlog, "history_rows": backlog}   # each lead refreshed exactly once
    _assert_published_equals_compute(tenant, queries, "lead", "contact_id", leads)
    with tenant_session(tenant) as s:
        assert s.execute(text("select count(*) from scores where entity_type = 'lead'")).scalar_one() == backlog

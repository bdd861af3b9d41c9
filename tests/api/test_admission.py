"""Admission (api.admission, crm.db.one_trip, migration 0015): revoked keys stop at once, per-key and per-agency
rate limits answer 429 with Retry-After, overload answers 503 with Retry-After, and the limits hold across the
worker processes of `crm serve` because they live in PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.cli.children import stop_child
from app.web import app
from crm import access
from crm.db import one_trip, slots
from crm.db.engine import admin_session, tenant_session
from crm.settings import get_settings
from tests.api.conftest import API, Api, assert_problem
from tests.conftest import make_tenant


@pytest.fixture(autouse=True)
def _refusals_at_once(monkeypatch):
    """These tests count tokens against the clock: a held 429 (CRM_REFUSAL_DELAY, about a second) lets the bucket
    refill mid-test. Holding is tests/api/test_known_refusals.py's subject."""
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 0)


def _new_key(api: Api, role: str = "member") -> tuple[str, dict]:
    response = api.post("/api-keys", {"name": "integration", "role": role})
    assert response.status_code == 201, response.text
    issued = response.json()
    return issued["id"], {"Authorization": f"Bearer {issued['api_key']}"}


def test_a_revoked_key_is_refused_on_its_very_next_request_on_every_path(api: Api, client):
    """The bound on revocation is zero: every request is admitted by the database, nothing is cached."""
    contact = api.contact("revoke@example.com")
    key_id, headers = _new_key(api)
    reads = [f"{API}/contacts/{contact['id']}", f"{API}/contacts?limit=5", f"{API}/scores/leads/{contact['id']}"]
    assert client.get(reads[0], headers=headers).status_code == 200
    assert api.delete(f"/api-keys/{key_id}").status_code == 204
    for path in reads:
        assert_problem(client.get(path, headers=headers), 401)
    assert_problem(client.post(f"{API}/notes", json={"body": "x"}, headers=headers), 401)
    assert api.get(f"/contacts/{contact['id']}").status_code == 200   # the admin's own key is untouched


def _burst(client, paths: list[str], headers: dict) -> tuple[list[httpx.Response], float]:
    started = time.monotonic()
    return [client.get(p, headers=headers) for p in paths], time.monotonic() - started


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(api: Api, client, monkeypatch):
    contact = api.contact("limited@example.com")
    _, headers = _new_key(api)
    _, sibling = _new_key(api)
    monkeypatch.setattr(get_settings(), "crm_rate_key_per_s", 1.0)   # bursts of 2
    responses, elapsed = _burst(client, [f"{API}/contacts/{contact['id']}"] * 8, headers)
    granted = [r for r in responses if r.status_code == 200]
    assert responses[0].status_code == 200 and responses[0].headers["RateLimit-Limit"] == "1"
    assert int(responses[0].headers["RateLimit-Remaining"]) == 1
    assert 2 <= len(granted) <= 2 + elapsed * 1.0 + 1
    refused = next(r for r in responses if r.status_code == 429)
    body = assert_problem(refused, 429)
    assert body["type"] == "/problems/rate-limited" and "API key" in body["detail"]
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Remaining"] == "0"
    # the write path is admitted the same way
    assert_problem(client.post(f"{API}/notes", json={"body": "x"}, headers=headers), 429)
    # another key of the same agency has its own bucket
    assert client.get(f"{API}/contacts/{contact['id']}", headers=sibling).status_code == 200


def test_a_refused_key_is_refused_by_its_worker_until_its_bucket_can_have_refilled(api: Api, client, monkeypatch):
    """A flood's 429s cost PostgreSQL nothing: the worker repeats the refusal until the refill instant."""
    contact = api.contact("flood@example.com")
    key_id, headers = _new_key(api)
    monkeypatch.setattr(get_settings(), "crm_rate_key_per_s", 0.5)   # a burst of 1, then one every 2 s
    path = f"{API}/contacts/{contact['id']}"
    assert client.get(path, headers=headers).status_code == 200
    assert_problem(client.get(path, headers=headers), 429)   # refused by PostgreSQL: no token
    with admin_session() as s:   # the bucket refilled behind the worker's back
        s.execute(text("update rate_buckets set tokens = 10 where scope = 'key' and id = :k"), {"k": key_id})
    repeated = client.get(path, headers=headers)
    assert_problem(repeated, 429)   # still refused: by the worker, which did not ask again
    assert int(repeated.headers["Retry-After"]) >= 1
    time.sleep(2.1)   # the instant a token could exist at 0.5/s has passed: the worker asks again
    assert client.get(path, headers=headers).status_code == 200


def test_an_agencys_keys_share_its_rate_and_another_agency_is_untouched(api: Api, other_api: Api, client,
                                                                        monkeypatch):
    contact, theirs = api.contact("shared@example.com"), other_api.contact("other@example.com")
    keys = [_new_key(api)[1] for _ in range(3)]
    monkeypatch.setattr(get_settings(), "crm_rate_tenant_per_s", 1.0)   # the agency: bursts of 2
    started = time.monotonic()
    statuses = [client.get(f"{API}/contacts/{contact['id']}", headers=k).status_code for k in keys * 3]
    elapsed = time.monotonic() - started
    assert 429 in statuses and statuses.count(200) <= 2 + elapsed * 1.0 + 1
    refused = client.get(f"{API}/contacts/{contact['id']}", headers=keys[0])
    if refused.status_code == 429:
        assert "agency" in refused.json()["detail"]
    assert other_api.get(f"/contacts/{theirs['id']}").status_code == 200


def _backend_waiting_on_a_lock() -> bool:
    with admin_session() as s:
        return bool(s.execute(text("select count(*) from pg_stat_activity where usename = 'crm_app' "
                                   "and wait_event_type = 'Lock'")).scalar())


@contextlib.contextmanager
def _a_patch_waiting_on_a_row_lock(client: TestClient, contact: dict, headers: dict):
    """A PATCH of `contact` in flight, holding its db slot while it waits on a row lock taken elsewhere;
    released (and answered 200) when the block ends."""
    with admin_session() as lock:
        lock.execute(text("select 1 from contacts where id = :i for update"), {"i": contact["id"]})
        with ThreadPoolExecutor(1) as pool:
            patch = pool.submit(client.patch, f"{API}/contacts/{contact['id']}", json={"title": "CMO"},
                                headers=headers)
            deadline = time.monotonic() + 60
            while not _backend_waiting_on_a_lock() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _backend_waiting_on_a_lock(), "the PATCH never reached its row lock"
            yield
            lock.rollback()   # the PATCH goes on
            assert patch.result(60).status_code == 200


def test_a_request_that_cannot_get_a_database_slot_in_time_is_answered_503_with_retry_after(tenant, monkeypatch):
    monkeypatch.setattr(slots, "DB_SLOTS", 1)   # the test client's new event loop gets a semaphore of one
    monkeypatch.setattr(get_settings(), "crm_queue_timeout", 0.5)
    headers = tenant["headers"]
    with TestClient(app) as client:
        contact = client.post(f"{API}/contacts", json={"email": "slow@example.com"}, headers=headers).json()
        with _a_patch_waiting_on_a_row_lock(client, contact, headers):
            refused = client.post(f"{API}/notes", json={"body": "queued"}, headers=headers)
            body = assert_problem(refused, 503)
            assert body["type"] == "/problems/overloaded" and refused.headers["Retry-After"] == "1"


def test_past_its_in_flight_bound_a_worker_answers_503_at_once(tenant, monkeypatch):
    headers = tenant["headers"]
    with TestClient(app) as client:
        contact = client.post(f"{API}/contacts", json={"email": "held@example.com"}, headers=headers).json()
        monkeypatch.setattr(get_settings(), "crm_max_in_flight", 1)
        with _a_patch_waiting_on_a_row_lock(client, contact, headers):   # one request in flight
            shed = client.get(f"{API}/contacts/{contact['id']}", headers=headers)
            body = assert_problem(shed, 503)
            assert body["type"] == "/problems/overloaded" and shed.headers["Retry-After"] == "1"
            again = client.post(f"{API}/notes", json={"body": "x", "contact_id": contact["id"]}, headers=headers)
            assert assert_problem(again, 503) == body   # rendered once, answered alike
            for answer in (shed, again):   # each with its own request id and the security headers
                assert answer.headers["x-content-type-options"] == "nosniff"
            assert shed.headers["x-request-id"] != again.headers["x-request-id"]
            assert client.get("/healthz").status_code == 200   # not an API request: not shed
        assert client.get(f"{API}/contacts/{contact['id']}", headers=headers).status_code == 200


def test_the_one_trip_pool_refuses_instead_of_queueing_past_the_timeout(tenant, monkeypatch):
    monkeypatch.setattr(one_trip, "POOL_MIN", 1)
    monkeypatch.setattr(one_trip, "POOL_MAX", 1)
    monkeypatch.setattr(get_settings(), "crm_queue_timeout", 0.3)
    caller = one_trip.KeyCaller.of(tenant["api_key"])
    read = [one_trip.Statement("select count(*) as n from contacts")]

    async def scenario():
        pools = one_trip.LazyPool()
        pool = await pools.get()
        try:
            async with pool.connection():   # the only connection, busy
                with pytest.raises(slots.Overloaded):
                    await one_trip.run(pools, caller, read)
            granted, (rows,) = await one_trip.run(pools, caller, read)   # free again
            assert rows == [{"n": 0}] and str(granted.tenant_id) == tenant["tenant_id"]
        finally:
            await pools.close()

    asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_limits_and_revocation_hold_across_the_worker_processes_of_crm_serve(crm_home):
    """Two workers, each spending leases of 2 admitted requests: were the buckets per process, each could
    grant a burst of its own; a key revoked outside both stops in both within LEASE_SECONDS."""
    agency = make_tenant("Workers")
    with tenant_session(agency["tenant_id"]) as s:
        revoked = access.create_api_key(s, uuid.UUID(agency["tenant_id"]), "member", "to revoke")
    port = _free_port()
    env = {**os.environ, "CRM_HOME": str(crm_home), "CRM_RATE_KEY_PER_S": "20",   # bursts of 40, leases of 2
           "CRM_REFUSAL_DELAY": "0"}   # 429s at once here: held ones are tests/api/test_known_refusals.py's
    proc = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--port", str(port), "--workers", "2",
                             "--no-refresher"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180   # two workers import the app on a busy machine
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "crm serve did not come up"
            time.sleep(0.3)

        def statuses(headers: dict, n: int) -> tuple[list[int], float]:
            # a new connection each: the kernel spreads them over both workers
            def one(_) -> int:
                return httpx.get(f"{base}/api/v1/contacts?limit=1", headers=headers, timeout=60).status_code
            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                got = list(pool.map(one, range(n)))
            return got, time.monotonic() - started

        got, elapsed = statuses(agency["headers"], 300)
        assert set(got) <= {200, 429} and got.count(200) <= 40 + 20 * elapsed
        with admin_session() as s:   # the workers' connections go by their name in pg_stat_activity
            names = set(s.execute(text("select application_name from pg_stat_activity")).scalars())
        assert "crm-api" in names
        if elapsed < (300 - 40) / 20:   # faster than the bucket refills: some were refused
            assert 429 in got

        secret = {"Authorization": f"Bearer {revoked.api_key}"}
        assert set(statuses(secret, 20)[0]) == {200}   # both workers hold leases of this key now
        with tenant_session(agency["tenant_id"]) as s:
            access.revoke_api_key(s, revoked.row.id)
        time.sleep(one_trip.LEASE_SECONDS)
        assert set(statuses(secret, 20)[0]) == {401}
    finally:
        stop_child(proc, grace=30)

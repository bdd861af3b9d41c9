"""A key its worker is already refusing is answered 429 before any other layer (api.admission.KnownRefusals):
the same problem+json and headers as any 429, security headers and request id included, counted in /metrics
under the key's agency, and never routed (an unknown path or a malformed body still gets the 429)."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from api.admission import KnownRefusals
from crm.db import one_trip
from crm.security import hash_api_key
from crm.settings import get_settings
from tests.api.conftest import API, Api, assert_problem


def _new_key(api: Api) -> tuple[str, str]:
    response = api.post("/api-keys", {"name": "flooder", "role": "member"})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["api_key"]


def _refusals_429(client, tenant_id: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(client.get("/metrics").text)
               if family.name == "crm_http_requests" for s in family.samples
               if s.name.endswith("_total") and s.labels.get("status") == "429"
               and s.labels.get("tenant") == tenant_id)


def test_a_refused_key_is_answered_before_routing_with_every_header_and_counted(api: Api, client, tenant,
                                                                                monkeypatch):
    contact = api.contact("known-refusal@example.com")
    _, key = _new_key(api)
    headers = {"Authorization": f"Bearer {key}"}
    monkeypatch.setattr(get_settings(), "crm_rate_key_per_s", 0.5)   # a burst of 1, then one every 2 s
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 0)      # the hold has its own test below
    path = f"{API}/contacts/{contact['id']}"
    assert client.get(path, headers=headers).status_code == 200
    assert_problem(client.get(path, headers=headers), 429)   # PostgreSQL's refusal: the worker now knows it
    learnt = one_trip.leases.refusal(hash_api_key(key))
    assert learnt is not None and 0 < learnt.wait <= 2
    # the bucket refills within 2 s, and a slow machine can spend that before the next request: hold the
    # refusal PostgreSQL gave for a minute so what follows tests the answering layer, not the clock
    one_trip.leases.refused(hash_api_key(key), one_trip.RateLimited(60, learnt.limit, learnt.scope, 60.0))
    assert isinstance(client.app.middleware_stack.app.app, KnownRefusals)   # observer > security headers > here
    before = _refusals_429(client, tenant["tenant_id"])
    answers = [client.get(path, headers=headers),
               client.get(f"{API}/no-such-resource", headers=headers),               # a router would say 404
               client.post(f"{API}/notes", content=b"{not json", headers=headers),   # a body parser 422
               client.get(f"{API}/contacts", params={"limit": 0}, headers=headers)]  # a validator 422
    for answer in answers:
        body = assert_problem(answer, 429)
        assert body["type"] == "/problems/rate-limited"
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.headers["RateLimit-Limit"] == "0.5" and answer.headers["RateLimit-Remaining"] == "0"
        assert answer.headers["X-Request-ID"] and "default-src" in answer.headers["Content-Security-Policy"]
    assert _refusals_429(client, tenant["tenant_id"]) - before == len(answers)
    # other keys of the agency, and requests without a key, are not touched
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    assert_problem(client.get(path), 401)


def _refused_key(api: Api, client, monkeypatch) -> tuple[str, dict]:
    contact = api.contact(f"held-{time.monotonic_ns()}@example.com")
    _, key = _new_key(api)
    headers = {"Authorization": f"Bearer {key}"}
    monkeypatch.setattr(get_settings(), "crm_rate_key_per_s", 0.5)
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 0)
    path = f"{API}/contacts/{contact['id']}"
    assert client.get(path, headers=headers).status_code == 200
    assert_problem(client.get(path, headers=headers), 429)
    learnt = one_trip.leases.refusal(hash_api_key(key))
    assert learnt is not None
    one_trip.leases.refused(hash_api_key(key), one_trip.RateLimited(60, learnt.limit, learnt.scope, 60.0))
    return path, headers


def test_a_known_refusal_waits_the_refusal_delay_before_its_429(api: Api, client, monkeypatch):
    """A flooder's connection waits CRM_REFUSAL_DELAY for each refusal (one request per connection per delay)."""
    path, headers = _refused_key(api, client, monkeypatch)
    layer = client.app.middleware_stack.app.app
    assert isinstance(layer, KnownRefusals)
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 0.5)
    started = time.monotonic()
    answer = client.get(path, headers=headers)
    assert time.monotonic() - started >= 0.25   # the delay, spread over ±50 %
    assert_problem(answer, 429)
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert layer.held == 0


def test_postgresqls_own_429_is_held_too_and_outside_the_in_flight_bound(api: Api, client, monkeypatch):
    """The first refusal of a window comes from PostgreSQL's bucket, deep in the route: it is held as well, and
    only after the request has left the in-flight bound (a held flood must not take the slots others need)."""
    contact = api.contact("held-by-pg@example.com")
    _, key = _new_key(api)
    headers = {"Authorization": f"Bearer {key}"}
    monkeypatch.setattr(get_settings(), "crm_rate_key_per_s", 0.5)
    monkeypatch.setattr(get_settings(), "crm_max_in_flight", 1)   # a held refusal inside the bound would block
    path = f"{API}/contacts/{contact['id']}"
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 0)
    assert client.get(path, headers=headers).status_code == 200
    assert one_trip.leases.refusal(hash_api_key(key)) is None   # nothing known yet: the next one asks PostgreSQL
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 0.5)
    layer = client.app.middleware_stack.app.app
    assert isinstance(layer, KnownRefusals)
    started = time.monotonic()
    answer = client.get(path, headers=headers)
    assert time.monotonic() - started >= 0.25   # the delay, spread over ±50 %
    assert_problem(answer, 429)
    assert layer.app.in_flight == 0 and layer.held == 0
    # the agency's other key is answered while the worker's one in-flight slot is free again
    assert api.get(f"/contacts/{contact['id']}").status_code == 200


def test_refusals_past_the_held_bound_are_answered_at_once(api: Api, client, monkeypatch):
    path, headers = _refused_key(api, client, monkeypatch)
    monkeypatch.setattr(get_settings(), "crm_refusal_delay", 30)
    monkeypatch.setattr(get_settings(), "crm_max_held_refusals", 0)   # the bound reached
    started = time.monotonic()
    assert_problem(client.get(path, headers=headers), 429)
    assert time.monotonic() - started < 30   # not held: a held one would take the whole delay

"""A key its worker is already refusing is answered 429 before any other layer (api.admission.KnownRefusals):
the same problem+json and headers as any 429, security headers and request id included, counted in /metrics
under the key's agency, and never routed (an unknown path or a malformed body still gets the 429)."""

from __future__ import annotations

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

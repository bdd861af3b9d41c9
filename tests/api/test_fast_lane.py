"""The fast lane (api.fast_lane) answers exactly as the declared routes do: same body, ETag and errors, the
same isolation, and the request is still seen by every middleware (metrics label it with its route)."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from api import fast_lane
from tests.api.conftest import API, Api, assert_problem


def _routed(api: Api, path: str):
    # any query string takes the request through FastAPI's router instead of the fast lane
    return api.get(path, params={"via": "router"})


def test_a_record_by_id_is_the_same_through_the_fast_lane_and_the_router(api: Api):
    company = api.company(name="Lane Ltd")
    pipeline = api.pipeline()
    deal = api.deal(company_id=company["id"], pipeline_id=pipeline["id"])
    for path in (f"/companies/{company['id']}", f"/pipelines/{pipeline['id']}", f"/deals/{deal['id']}"):
        assert fast_lane._match({"type": "http", "method": "GET", "query_string": b"", "path": API + path,
                                 "headers": [(b"authorization", b"Bearer x")]}) is not None
        fast, routed = api.get(path), _routed(api, path)
        assert fast.status_code == routed.status_code == 200
        assert fast.json() == routed.json() and fast.headers["ETag"] == routed.headers["ETag"]
        assert fast.headers["content-type"] == routed.headers["content-type"]


def test_the_fast_lane_keeps_isolation_and_errors(api: Api, other_api: Api, client):
    theirs = other_api.contact("theirs@example.com")
    assert_problem(api.get(f"/contacts/{theirs['id']}"), 404)
    assert_problem(api.get(f"/scores/leads/{theirs['id']}"), 404)
    assert_problem(client.get(f"{API}/contacts/{theirs['id']}", headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(api.get(f"/contacts/{uuid.uuid4()}"), 404)
    assert_problem(api.get("/contacts/not-a-uuid-but-thirty-six-characters-"), 422)   # left to the router


def test_fast_lane_requests_are_counted_under_their_route(api: Api, client):
    contact = api.contact("counted@example.com")
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    samples = [s for family in text_string_to_metric_families(client.get("/metrics").text)
               if family.name == "crm_http_requests" for s in family.samples]
    assert any(s.labels.get("route") == "/api/v1/contacts/{id}" and s.labels.get("method") == "GET"
               and s.labels.get("status") == "200" for s in samples)


def test_a_hot_read_carries_the_headers_every_answer_gets(api: Api):
    contact = api.contact("headers@example.com")
    path = f"/contacts/{contact['id']}"
    fast, routed = api.get(path), _routed(api, path)
    for name in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                 "ratelimit-limit", "content-type", "etag"):
        assert fast.headers[name] == routed.headers[name], name
    assert fast.headers["x-request-id"] and fast.headers["x-request-id"] != routed.headers["x-request-id"]
    assert int(fast.headers["ratelimit-remaining"]) >= 0


def test_a_request_with_a_body_is_left_to_the_full_stack(api: Api, client):
    contact = api.contact("body@example.com")
    scope = {"type": "http", "method": "GET", "query_string": b"", "path": f"{API}/contacts/{contact['id']}"}
    bearer = (b"authorization", b"Bearer x")
    assert fast_lane._match(scope | {"headers": [bearer, (b"content-length", b"0")]}) is not None
    assert fast_lane._match(scope | {"headers": [bearer, (b"content-length", b"12")]}) is None
    assert fast_lane._match(scope | {"headers": [(b"transfer-encoding", b"chunked"), bearer]}) is None
    huge = client.request("GET", f"{API}/contacts/{contact['id']}", headers=api.headers,
                          content=b"x" * (1024 * 1024 + 1))
    assert_problem(huge, 413)   # the body limit answers it, as for any other request


def test_an_unexpected_error_in_a_hot_read_is_a_500_problem_with_every_header(api: Api, client, monkeypatch):
    contact = api.contact("broken@example.com")
    route = fast_lane._by_id["contacts"][1]

    async def broken(request, caller, id_):
        raise RuntimeError("a bug")

    monkeypatch.setitem(fast_lane._by_id, "contacts", (broken, route))
    answer = api.get(f"/contacts/{contact['id']}")
    assert_problem(answer, 500)
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-request-id"]

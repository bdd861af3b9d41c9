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

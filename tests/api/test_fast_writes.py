"""The hot writes' door (api.fast_writes): a create or an update with an API key and a valid JSON body is answered
by the route's own function without FastAPI's routing, exactly as the router answers it; everything else it
leaves to the router, which still gives every validation error."""

from __future__ import annotations

import uuid

import pytest

from api import fast_writes
from tests.api.conftest import Api, assert_problem

ROUTED = {"via": "router"}   # a query string takes a write through FastAPI's router instead of the door


@pytest.fixture
def door_calls(monkeypatch) -> list[str]:
    """The collections whose create or update the door called."""
    calls: list[str] = []
    for table in (fast_writes._creates, fast_writes._updates):
        for collection, (handler, route, body) in list(table.items()):
            def counted(*args, handler=handler, collection=collection):
                calls.append(collection)
                return handler(*args)
            monkeypatch.setitem(table, collection, (counted, route, body))
    return calls


def test_a_create_through_the_door_answers_as_the_router_does(api: Api, door_calls):
    contact = api.contact("door@example.com")
    door_calls.clear()
    body = {"body": "Asked about pricing for 12 seats.", "contact_id": contact["id"]}
    fast, routed = api.post("/notes", body), api.post("/notes", body, params=ROUTED)
    assert door_calls == ["notes"]
    assert fast.status_code == routed.status_code == 201
    one, other = fast.json(), routed.json()
    assert one.keys() == other.keys() and one["id"] != other["id"]
    assert {k: v for k, v in one.items() if k not in ("id", "created_at", "updated_at", "occurred_at")} == \
           {k: v for k, v in other.items() if k not in ("id", "created_at", "updated_at", "occurred_at")}
    for name in ("content-type", "ratelimit-limit", "content-security-policy", "x-content-type-options"):
        assert fast.headers[name] == routed.headers[name], name
    assert fast.headers["etag"] and fast.headers["x-request-id"]
    assert api.get(f"/notes/{one['id']}").json() == one   # stored, and answered as a read answers it


def test_an_update_through_the_door_keeps_preconditions_and_isolation(api: Api, other_api: Api, door_calls):
    company = api.company(name="Door Ltd")
    path = f"/companies/{company['id']}"
    first = api.get(path).headers["ETag"]
    door_calls.clear()
    updated = api.patch(path, {"industry": "Retail"}, headers={"If-Match": first})
    assert updated.status_code == 200 and updated.json()["industry"] == "Retail"
    assert updated.headers["ETag"] == api.get(path).headers["ETag"] != first
    assert_problem(api.patch(path, {"industry": "Travel"}, headers={"If-Match": first}), 412)
    assert_problem(other_api.patch(path, {"industry": "Travel"}), 404)   # another agency's record
    assert door_calls == ["companies"] * 3
    assert api.get(path).json()["industry"] == "Retail"


def test_the_works_refusals_are_answered_as_the_router_answers_them(api: Api, other_api: Api, door_calls):
    theirs = other_api.contact("theirs@example.com")
    door_calls.clear()
    body = {"body": "Their contact, not ours.", "contact_id": theirs["id"]}
    fast, routed = api.post("/notes", body), api.post("/notes", body, params=ROUTED)
    assert door_calls == ["notes"]
    assert_problem(fast, 422)
    assert fast.json() == routed.json()   # the reference is refused by name, their record never revealed
    unknown_key = api.client.post("/api/v1/notes", json={"body": "x", "contact_id": theirs["id"]},
                                headers={"Authorization": "Bearer not-a-key"})
    assert_problem(unknown_key, 401)


@pytest.mark.parametrize("content, content_type", [
    (b'{"body": "no closing brace"', "application/json"),        # not JSON
    (b'{"contact_id": "not-a-uuid"}', "application/json"),        # not valid
    (b'["a", "list"]', "application/json"),                        # not an object
    (b"body=form+encoded", "application/x-www-form-urlencoded"),   # not JSON at all
])
def test_a_body_the_door_cannot_take_whole_gets_the_routers_own_answer(api: Api, door_calls, content, content_type):
    headers = {**api.headers, "Content-Type": content_type}
    fast = api.client.post("/api/v1/notes", content=content, headers=headers)
    routed = api.client.post("/api/v1/notes", content=content, headers=headers, params=ROUTED)
    assert door_calls == []
    assert fast.status_code == routed.status_code == 422
    assert fast.json() == routed.json()


def test_the_door_takes_exactly_its_shapes():
    fast_writes.register_create("widgets", None, None, None)
    try:
        def scope(method: str, path: str, *headers: tuple[bytes, bytes], query: bytes = b""):
            return {"type": "http", "method": method, "path": path, "query_string": query,
                    "headers": [(b"authorization", b"Bearer k"), *headers]}
        json_body = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", b"12")]
        assert fast_writes.match(scope("POST", "/api/v1/widgets", *json_body)) is not None
        assert fast_writes.match(scope("POST", "/api/v1/widgets", *json_body, query=b"a=1")) is None
        assert fast_writes.match(scope("POST", "/api/v1/gadgets", *json_body)) is None
        assert fast_writes.match(scope("PUT", "/api/v1/widgets", *json_body)) is None
        assert fast_writes.match(scope("POST", "/api/v1/widgets", json_body[0])) is None   # no length: chunked
        assert fast_writes.match(scope("POST", "/api/v1/widgets", json_body[0],
                                       (b"content-length", str(2 * 1024 * 1024).encode()))) is None
        assert fast_writes.match(scope("POST", "/api/v1/widgets", (b"content-type", b"text/plain"),
                                       json_body[1])) is None
        assert fast_writes.match(scope("PATCH", f"/api/v1/contacts/{uuid.uuid4()}", *json_body)) is not None
        assert fast_writes.match(scope("PATCH", "/api/v1/contacts/not-an-id-but-thirty-six-characters-",
                                       *json_body)) is None
    finally:
        fast_writes._creates.pop("widgets")

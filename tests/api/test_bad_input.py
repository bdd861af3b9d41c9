"""Bad input of every kind gets a clear 4xx problem+json, never a 500."""

from __future__ import annotations

import pytest

from api.limits import MAX_BODY
from tests.api.conftest import API, assert_problem


def test_unknown_fields_are_rejected(api):
    body = assert_problem(api.post("/contacts", {"email": "x@example.com", "favourite_colour": "teal"}), 422)
    assert "favourite_colour" in body["detail"]
    assert body["errors"][0]["type"] == "extra_forbidden"
    company = api.company()
    assert_problem(api.patch(f"/companies/{company['id']}", {"tenant_id": company["id"]}), 422)
    assert_problem(api.post("/companies", {"name": "x", "id": company["id"]}), 422)


@pytest.mark.parametrize("path,body", [
    ("/contacts", {"email": "not-an-email"}),
    ("/contacts", {"email": 42}),
    ("/contacts", {"email": "a@example.com", "lifecycle_stage": "king"}),
    ("/companies", {"name": ""}),
    ("/companies", {"name": "x", "domain": "not a domain"}),
    ("/companies", {"name": ["x"]}),
    ("/companies", {"name": "x", "size": "huge"}),
    ("/deals", {"name": "x", "amount": "ten"}),
    ("/deals", {"name": "x", "amount": "1e20"}),
    ("/deals", {"name": "x", "currency": "euro"}),
    ("/activities", {"type": "smoke_signal", "occurred_at": "2026-01-01T00:00:00Z"}),
    ("/activities", {"type": "call", "occurred_at": "last tuesday"}),
    ("/activities", {"type": "call", "occurred_at": "2026-01-01T00:00:00Z", "properties": [1, 2]}),
    ("/tasks", {"title": "x", "is_done": "perhaps"}),
    ("/notes", {"body": ""}),
    ("/notes", {"body": "x", "contact_id": "123"}),
    ("/pipelines", {"name": "x", "stages": [{"name": "s", "win_probability": 2}]}),
])
def test_wrong_types_and_values_are_422(api, path, body):
    problem = assert_problem(api.post(path, body), 422)
    assert problem["type"] == "/problems/validation" and problem["errors"]


def test_body_that_is_not_an_object(api):
    assert_problem(api.post("/contacts", ["a@example.com"]), 422)
    assert_problem(api.post("/contacts", None), 422)


def test_invalid_json(client, tenant):
    headers = {**tenant["headers"], "content-type": "application/json"}
    for raw in (b"{bad", b'{"email": "a@example.com",}', b"\xff\xfe\x00", b""):
        r = client.post(f"{API}/contacts", content=raw, headers=headers)
        assert 400 <= r.status_code < 500, (raw, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_huge_body_is_413(client, tenant):
    big = b'{"email": "a@example.com", "title": "' + b"x" * (MAX_BODY + 10) + b'"}'
    r = client.post(f"{API}/contacts", content=big, headers={**tenant["headers"], "content-type": "application/json"})
    body = assert_problem(r, 413)
    assert "1 MiB" in body["detail"]


def test_huge_body_without_content_length_is_413(client, tenant):
    def chunks():
        for _ in range(3):
            yield b"x" * (MAX_BODY // 2 + 1)

    r = client.post(f"{API}/contacts", content=chunks(), headers={**tenant["headers"],
                                                                  "content-type": "application/json"})
    assert_problem(r, 413)


def test_bad_path_ids_and_methods(api, client, tenant):
    assert_problem(api.get("/contacts/not-a-uuid"), 422)
    assert_problem(api.get("/nonsense"), 404)
    assert_problem(client.put(f"{API}/contacts", headers=tenant["headers"], json={}), 405)


def test_overlong_text_is_422(api):
    assert_problem(api.post("/contacts", {"email": "a@example.com", "title": "x" * 201}), 422)
    assert_problem(api.post("/notes", {"body": "x" * 20_001}), 422)


def test_out_of_range_dates_are_4xx(api):
    r = api.post("/tasks", {"title": "x", "due_at": "99999-01-01T00:00:00Z"})
    assert_problem(r, 422)
    r = api.post("/companies", {"name": "x", "customer_since": "0000-01-01"})
    assert_problem(r, 422)


def test_nul_bytes_in_text_are_422_naming_the_field(api):
    """Every text type of the schemas refuses NUL (PostgreSQL cannot store it), so the error says where."""
    problem = assert_problem(api.post("/notes", {"body": "before\u0000after"}), 422)
    assert "body" in str(problem) and "NUL" in str(problem)
    contact = api.post("/contacts", {"email": "nul@example.com"}).json()["id"]
    problem = assert_problem(api.post("/activities", {"type": "web_visit", "occurred_at": "2026-01-05T10:00:00Z",
                                                      "contact_id": contact, "properties": {"path": "/a\u0000"}}),
                             422)
    assert "properties" in str(problem) and "NUL" in str(problem)

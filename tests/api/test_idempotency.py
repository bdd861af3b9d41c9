"""`Idempotency-Key` on POST: a retried create is answered from the first response, never written twice."""

from __future__ import annotations

import uuid

from crm.settings import get_settings
from tests.api.conftest import Api, assert_problem
from tests.api.test_write_races import race


def _key() -> dict:
    return {"Idempotency-Key": uuid.uuid4().hex}


def test_hundred_concurrent_posts_with_one_key_make_one_note(api: Api, monkeypatch):
    # a hundred writers queued on one key is the point here, not overload: none may be answered 503
    monkeypatch.setattr(get_settings(), "crm_queue_timeout", 120.0)
    key = _key()
    responses = race([lambda: api.post("/notes", {"body": "exactly once"}, headers=key) for _ in range(100)])
    assert {r.status_code for r in responses} == {201}, {r.status_code for r in responses}
    bodies = {r.text for r in responses}
    assert len(bodies) == 1
    assert len([n for n in api.list_all("notes") if n["body"] == "exactly once"]) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 99
    assert len({r.headers["ETag"] for r in responses}) == 1


def test_same_key_other_body_is_422(api: Api):
    key = _key()
    assert api.post("/notes", {"body": "first"}, headers=key).status_code == 201
    body = assert_problem(api.post("/notes", {"body": "second"}, headers=key), 422)
    assert "Idempotency-Key" in body["detail"]
    assert_problem(api.post("/companies", {"name": "first"}, headers=key), 422)   # other path, same key
    assert [n["body"] for n in api.list_all("notes")] == ["first"]


def test_replay_returns_the_first_response(api: Api):
    key = _key()
    first = api.post("/companies", {"name": "Once Ltd"}, headers=key)
    api.patch(f"/companies/{first.json()['id']}", {"name": "Renamed"})
    again = api.post("/companies", {"name": "Once Ltd"}, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.list_all("companies")) == 1


def test_keys_are_per_tenant(api: Api, other_api: Api):
    key = _key()
    mine = api.post("/notes", {"body": "mine"}, headers=key)
    theirs = other_api.post("/notes", {"body": "mine"}, headers=key)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers


def test_a_failed_request_does_not_use_up_the_key(api: Api):
    key = _key()
    assert_problem(api.post("/deals", {"name": "no pipeline yet"}, headers=key), 422)
    api.pipeline()
    assert api.post("/deals", {"name": "no pipeline yet"}, headers=key).status_code == 201


def test_stages_members_and_events_take_keys(api: Api):
    pipeline = api.pipeline(stages=[{"name": "One"}])
    key = _key()
    stage = [api.post(f"/pipelines/{pipeline['id']}/stages", {"name": "Two"}, headers=key) for _ in range(2)]
    assert stage[0].json() == stage[1].json() and stage[1].headers["Idempotent-Replayed"] == "true"
    assert len(api.get(f"/pipelines/{pipeline['id']}").json()["stages"]) == 2

    campaign = api.create("campaigns", {"name": "Spring", "channel": "email"})
    contact = api.contact("member@example.com")
    key = _key()
    added = [api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": [contact["id"]]}, headers=key)
             for _ in range(2)]
    assert added[1].json() == added[0].json() == {"added": 1, "already_members": 0}

    key = _key()
    batch = {"events": [{"type": "web_visit", "occurred_at": "2026-01-05T10:00:00Z", "external_id": "v1",
                         "contact_id": contact["id"]}]}
    sent = [api.post("/events", batch, headers=key) for _ in range(2)]
    assert sent[1].json() == sent[0].json() and sent[0].json()["accepted"] == 1


def test_malformed_key_is_422(api: Api):
    assert_problem(api.post("/notes", {"body": "x"}, headers={"Idempotency-Key": "x" * 300}), 422)

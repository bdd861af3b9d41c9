"""Campaigns with contacts as members."""

from __future__ import annotations

from tests.api.conftest import assert_problem


def test_members_add_list_remove(api):
    campaign = api.create("campaigns", {"name": "Spring", "channel": "paid_social"})
    a, b = api.contact("a@spring.example.com"), api.contact("b@spring.example.com")
    cid = campaign["id"]

    added = api.post(f"/campaigns/{cid}/members", {"contact_ids": [a["id"], b["id"], a["id"]]})
    assert added.status_code == 201 and added.json() == {"added": 2, "already_members": 0}
    again = api.post(f"/campaigns/{cid}/members", {"contact_ids": [a["id"]]}).json()
    assert again == {"added": 0, "already_members": 1}

    members = api.get(f"/campaigns/{cid}/members").json()["data"]
    assert {m["contact_id"] for m in members} == {a["id"], b["id"]}

    assert api.delete(f"/campaigns/{cid}/members/{a['id']}").status_code == 204
    assert_problem(api.delete(f"/campaigns/{cid}/members/{a['id']}"), 404)
    assert [m["contact_id"] for m in api.get(f"/campaigns/{cid}/members").json()["data"]] == [b["id"]]


def test_member_of_unknown_campaign_or_contact(api):
    campaign = api.create("campaigns", {"name": "Fall", "channel": "email"})
    missing = "00000000-0000-0000-0000-0000000000aa"
    assert_problem(api.get(f"/campaigns/{missing}/members"), 404)
    assert_problem(api.post(f"/campaigns/{missing}/members", {"contact_ids": [missing]}), 404)
    assert_problem(api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": [missing]}), 422)
    assert_problem(api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": []}), 422)


def test_campaign_dates_and_budget_are_validated(api):
    assert_problem(api.post("/campaigns", {"name": "x", "channel": "email", "starts_on": "2026-02-01",
                                           "ends_on": "2026-01-01"}), 422)
    assert_problem(api.post("/campaigns", {"name": "x", "channel": "email", "budget": "-1"}), 422)
    assert_problem(api.post("/campaigns", {"name": "x", "channel": "telepathy"}), 422)


def test_patch_that_breaks_a_database_check_is_422(api):
    campaign = api.create("campaigns", {"name": "Winter", "channel": "email", "starts_on": "2026-02-01"})
    # only ends_on is sent, so the schema cannot compare dates: the database's check constraint does
    body = assert_problem(api.patch(f"/campaigns/{campaign['id']}", {"ends_on": "2026-01-01"}), 422)
    assert body["type"] == "/problems/check-violation"
    assert api.get(f"/campaigns/{campaign['id']}").json()["ends_on"] is None

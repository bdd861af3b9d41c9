"""Timestamps and dates outside the product's range [1900-01-01, 2100-01-01) UTC are refused at every door.

The finding: `"occurred_at": "0001-01-01T00:00:00+01:00"` (1 BC in UTC) was stored through POST /events;
afterwards that tenant's activity list and the row itself answered 422 and the warehouse extract failed
for every tenant. Here each write path refuses it with an error naming the field, and what is accepted
reads back as the instant that was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.conftest import assert_problem

FINDING = "0001-01-01T00:00:00+01:00"
OUTSIDE = [FINDING, "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "1900-01-01T00:30:00+01:00",
           "2100-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2099-12-31T23:30:00-01:00"]
INSIDE = ["1900-01-01T00:00:00Z", "2099-12-31T23:59:59.999999Z", "1900-01-01T00:30:00-01:00"]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _refused(response, field: str) -> None:
    body = assert_problem(response, 422)
    assert field in body["detail"], body
    assert "supported range" in body["detail"], body


@pytest.mark.parametrize("value", OUTSIDE)
def test_activity_create_and_update_refuse_out_of_range(api, value):
    company = api.company()
    _refused(api.post("/activities", {"type": "call", "occurred_at": value, "company_id": company["id"]}),
             "occurred_at")
    ok = api.create("activities", {"type": "call", "occurred_at": "2026-01-01T10:00:00Z", "company_id": company["id"]})
    _refused(api.patch(f"/activities/{ok['id']}", {"occurred_at": value}), "occurred_at")
    assert [a["id"] for a in api.list_all("activities")] == [ok["id"]]


@pytest.mark.parametrize("value", INSIDE)
def test_edges_inside_the_range_are_stored_as_sent(api, value):
    company = api.company()
    created = api.create("activities", {"type": "call", "occurred_at": value, "company_id": company["id"]})
    assert _instant(created["occurred_at"]) == _instant(value)
    read = api.get(f"/activities/{created['id']}")
    assert read.status_code == 200 and _instant(read.json()["occurred_at"]) == _instant(value)


def test_a_naive_timestamp_is_read_as_utc(api):
    company = api.company()
    created = api.create("activities", {"type": "call", "occurred_at": "2026-03-01T09:00:00",
                                        "company_id": company["id"]})
    assert _instant(created["occurred_at"]) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    task = api.create("tasks", {"title": "Call back", "due_at": "2026-03-02T08:00:00"})
    assert _instant(task["due_at"]) == datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_notes_and_tasks_refuse_out_of_range(api):
    _refused(api.post("/notes", {"body": "old", "occurred_at": FINDING}), "occurred_at")
    _refused(api.post("/tasks", {"title": "t", "due_at": "2100-01-01T00:00:00Z"}), "due_at")
    task = api.create("tasks", {"title": "t", "due_at": "1900-01-01T00:00:00Z"})
    _refused(api.patch(f"/tasks/{task['id']}", {"due_at": FINDING}), "due_at")


@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "2100-01-01", "9999-12-31"])
def test_dates_users_send_are_bounded_too(api, value):
    _refused(api.post("/companies", {"name": "Old", "customer_since": value}), "customer_since")
    company = api.company(customer_since="1900-01-01")
    _refused(api.patch(f"/companies/{company['id']}", {"customer_since": value}), "customer_since")

    api.pipeline()
    _refused(api.post("/deals", {"name": "Far", "expected_close_date": value}), "expected_close_date")
    deal = api.deal(expected_close_date="2099-12-31")
    _refused(api.patch(f"/deals/{deal['id']}", {"expected_close_date": value}), "expected_close_date")

    _refused(api.post("/campaigns", {"name": "c", "channel": "email", "starts_on": value}), "starts_on")
    _refused(api.post("/campaigns", {"name": "c", "channel": "email", "ends_on": value}), "ends_on")
    campaign = api.create("campaigns", {"name": "c", "channel": "email", "starts_on": "1900-01-01",
                                        "ends_on": "2099-12-31"})
    _refused(api.patch(f"/campaigns/{campaign['id']}", {"ends_on": value}), "ends_on")


def test_the_finding_through_events_is_rejected_and_the_tenant_keeps_working(api):
    company = api.company()
    events = [
        {"type": "web_visit", "occurred_at": FINDING, "external_id": "bc-1", "company_id": company["id"]},
        {"type": "web_visit", "occurred_at": "2100-01-01T00:00:00Z", "external_id": "late-1",
         "company_id": company["id"]},
        {"type": "web_visit", "occurred_at": "2026-01-01T00:00:00", "external_id": "ok-1", "company_id": company["id"]},
    ]
    r = api.post("/events", {"events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["status"] for o in body["results"]] == ["rejected", "rejected", "accepted"]
    assert "occurred_at" in body["results"][0]["reason"] and "supported range" in body["results"][0]["reason"]
    assert "occurred_at" in body["results"][1]["reason"]  # beyond the range (and the future rule)
    listed = api.list_all("activities")
    assert [a["id"] for a in listed] == [body["results"][2]["activity_id"]]
    assert _instant(listed[0]["occurred_at"]) == datetime(2026, 1, 1, tzinfo=UTC)  # naive = UTC
    assert api.delete(f"/activities/{listed[0]['id']}").status_code == 204

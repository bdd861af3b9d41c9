"""GET /companies/{id}/next-action and /contacts/{id}/next-action over HTTP: the shape, cited reasons that are
the tenant's records, and 404 problem+json for another tenant's id."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.api.conftest import assert_problem


def _seed(api) -> dict:
    company = api.company(name="Quokka Holdings", lifecycle="customer")
    contact = api.contact(f"{uuid.uuid4().hex[:8]}@quokka.example.com", first_name="Dana", last_name="Cole",
                          company_id=company["id"])
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    task = api.create("tasks", {"title": "Send the renewal quote", "contact_id": contact["id"], "due_at": due})
    note = api.create("notes", {"body": "Dana worries the price is too high for next year.",
                                "contact_id": contact["id"], "company_id": company["id"]})
    return {"company": company["id"], "contact": contact["id"], "task": task["id"], "note": note["id"]}


def test_next_action_shape_and_citations(api, other_api):
    mine = _seed(api)
    r = api.get(f"/contacts/{mine['contact']}/next-action")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"entity_type", "entity_id", "entity_name", "action", "kind", "priority", "due", "reasons",
                         "rule", "contact_id", "contact_name", "generated_at"}
    assert (body["entity_type"], body["entity_id"], body["entity_name"]) == ("contact", mine["contact"], "Dana Cole")
    assert (body["kind"], body["priority"], body["contact_name"]) == ("follow_up", "medium", "Dana Cole")
    assert body["action"] == "Finish the overdue task 'Send the renewal quote' today"
    assert body["due"] == dt.datetime.now(dt.UTC).date().isoformat()
    cited = {(x["source_type"], x["source_id"]) for x in body["reasons"]}
    assert {("task", mine["task"]), ("note", mine["note"])} <= cited
    assert all(set(x) == {"text", "source_type", "source_id", "occurred_at", "snippet"} for x in body["reasons"])
    note = next(x for x in body["reasons"] if x["source_type"] == "note")
    assert note["snippet"] == "Dana worries the price is too high for next year."

    company = api.get(f"/companies/{mine['company']}/next-action")
    assert company.status_code == 200, company.text
    assert company.json()["entity_type"] == "company" and company.json()["contact_id"] == mine["contact"]
    assert ("task", mine["task"]) in {(x["source_type"], x["source_id"]) for x in company.json()["reasons"]}

    # another tenant's ids, and ids of nothing, are 404 problem+json; a bad id is 422
    for path in (f"/companies/{mine['company']}", f"/contacts/{mine['contact']}", f"/contacts/{uuid.uuid4()}"):
        body = assert_problem(other_api.get(f"{path}/next-action"), 404)
        assert path.rsplit("/", 1)[1] in body["detail"]
    assert_problem(api.get("/companies/not-a-uuid/next-action"), 422)
    assert_problem(api.get(f"/contacts/{mine['contact']}/next-action", headers={"Authorization": "Bearer nope"}),
                   401)

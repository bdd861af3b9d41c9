"""Two tenants: each sees, changes and deletes only its own rows; the other's ids answer 404."""

from __future__ import annotations

from tests.api.conftest import assert_problem

RESOURCES = ["companies", "contacts", "pipelines", "deals", "activities", "notes", "tasks", "campaigns"]


def _one_of_each(api) -> dict[str, dict]:
    company = api.company(domain="victim.example.com")
    contact = api.contact("ceo@victim.example.com", company_id=company["id"])
    pipeline = api.pipeline()
    deal = api.deal(pipeline_id=pipeline["id"], company_id=company["id"], contact_id=contact["id"])
    campaign = api.create("campaigns", {"name": "Secret launch", "channel": "email"})
    api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": [contact["id"]]})
    return {
        "companies": company, "contacts": contact, "pipelines": pipeline, "deals": deal, "campaigns": campaign,
        "activities": api.create("activities", {"type": "call", "occurred_at": "2026-01-01T00:00:00Z",
                                                "contact_id": contact["id"], "subject": "secret call"}),
        "notes": api.create("notes", {"body": "secret note", "contact_id": contact["id"]}),
        "tasks": api.create("tasks", {"title": "secret task", "deal_id": deal["id"]}),
    }


def test_other_tenants_ids_answer_404_for_read_update_delete(api, other_api):
    victim = _one_of_each(api)
    other_api.company(name="Attacker Co")
    missing = "00000000-0000-0000-0000-00000000dead"
    for resource, row in victim.items():
        for path in (f"/{resource}/{row['id']}", f"/{resource}/{missing}"):
            read = assert_problem(other_api.get(path), 404)
            assert assert_problem(other_api.patch(path, {}), 404)["detail"].endswith("not found")
            assert_problem(other_api.delete(path), 404)
            # a foreign id and a missing one are indistinguishable
            assert read["title"] == "Not Found" and read["type"] == "/problems/not-found"
        ids = {r["id"] for r in other_api.list_all(resource)}
        assert row["id"] not in ids
        assert api.get(f"/{resource}/{row['id']}").status_code == 200  # still there for its owner
    pipeline, deal, campaign = victim["pipelines"], victim["deals"], victim["campaigns"]
    assert_problem(other_api.get(f"/campaigns/{campaign['id']}/members"), 404)
    assert_problem(other_api.post(f"/campaigns/{campaign['id']}/members",
                                  {"contact_ids": [victim["contacts"]["id"]]}), 404)
    assert_problem(other_api.delete(f"/campaigns/{campaign['id']}/members/{victim['contacts']['id']}"), 404)
    assert_problem(other_api.post(f"/pipelines/{pipeline['id']}/stages", {"name": "x"}), 404)
    assert_problem(other_api.patch(f"/pipelines/{pipeline['id']}/stages/{deal['stage_id']}", {"name": "x"}), 404)
    assert_problem(other_api.delete(f"/pipelines/{pipeline['id']}/stages/{deal['stage_id']}"), 404)
    assert len(api.get(f"/campaigns/{campaign['id']}/members").json()["data"]) == 1


def test_search_and_filters_never_cross_tenants(api, other_api):
    victim = _one_of_each(api)
    assert other_api.list_all("contacts", q="victim") == []
    assert other_api.list_all("notes", q="secret") == []
    assert other_api.list_all("contacts", company_id=victim["companies"]["id"]) == []
    assert other_api.list_all("deals", company_id=victim["companies"]["id"]) == []


def test_foreign_references_in_bodies_are_422_not_a_leak(api, other_api):
    victim = _one_of_each(api)
    company, contact, deal = victim["companies"], victim["contacts"], victim["deals"]
    attempts = [
        ("/contacts", {"email": "spy@example.com", "company_id": company["id"]}),
        ("/activities", {"type": "call", "occurred_at": "2026-01-01T00:00:00Z", "contact_id": contact["id"]}),
        ("/notes", {"body": "x", "deal_id": deal["id"]}),
        ("/tasks", {"title": "x", "company_id": company["id"]}),
        ("/deals", {"name": "x", "pipeline_id": victim["pipelines"]["id"]}),
        ("/deals", {"name": "x", "stage_id": deal["stage_id"]}),
    ]
    for path, body in attempts:
        problem = assert_problem(other_api.post(path, body), 422)
        assert "victim" not in problem["detail"] and company["id"] not in problem["detail"]
    own = other_api.contact("own@example.com")
    assert_problem(other_api.patch(f"/contacts/{own['id']}", {"company_id": company["id"]}), 422)
    campaign = other_api.create("campaigns", {"name": "Mine", "channel": "email"})
    assert_problem(other_api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": [contact["id"]]}), 422)
    # nothing of the attacker's attempts landed in the victim's tenant
    assert [c["email"] for c in api.list_all("contacts")] == ["ceo@victim.example.com"]


def test_same_natural_keys_live_side_by_side(api, other_api):
    mine = api.company(domain="shared.example.com")
    theirs = other_api.company(domain="shared.example.com")
    assert mine["id"] != theirs["id"]
    assert [c["id"] for c in api.list_all("companies")] == [mine["id"]]
    assert [c["id"] for c in other_api.list_all("companies")] == [theirs["id"]]


def test_a_foreign_reference_is_refused_exactly_as_a_missing_one_naming_its_field(api, other_api):
    """API writes leave references to the composite foreign keys (no lookup first): every reference field of
    every CRUD write, on create and on update, answers another agency's record as it answers no record at all:
    the same 422 naming the field, and nothing is written."""
    victim = _one_of_each(api)
    foreign = {"company_id": victim["companies"]["id"], "contact_id": victim["contacts"]["id"],
               "deal_id": victim["deals"]["id"], "campaign_id": victim["campaigns"]["id"]}
    missing = "00000000-0000-0000-0000-00000000dead"
    bodies = {"contacts": {"email": "x@own.example.com"}, "notes": {"body": "x"}, "tasks": {"title": "x"},
              "activities": {"type": "call", "occurred_at": "2026-01-01T00:00:00Z"}, "deals": {"name": "x"},
              "companies": {"name": "x"}}
    fields = {"contacts": ["company_id"], "notes": ["company_id", "contact_id", "deal_id"],
              "tasks": ["company_id", "contact_id", "deal_id"], "deals": ["company_id", "contact_id"],
              "activities": ["company_id", "contact_id", "deal_id", "campaign_id"]}
    other_api.pipeline()   # a deal needs one
    before = {r: len(other_api.list_all(r)) for r in bodies}
    own = {r: other_api.create(r, body)["id"] for r, body in bodies.items()}
    for resource, names in fields.items():
        for name in names:
            answers = []
            for value in (foreign[name], missing):
                body = {**bodies[resource], **({"email": "y@own.example.com"} if resource == "contacts" else {})}
                created = assert_problem(other_api.post(f"/{resource}", {**body, name: value}), 422)
                updated = assert_problem(other_api.patch(f"/{resource}/{own[resource]}", {name: value}), 422)
                answers.append([(p["type"], p["detail"]) for p in (created, updated)])
            assert answers[0] == answers[1] == [("/problems/invalid-reference",
                                                 f"{name}: the referenced record does not exist")] * 2, (resource, name)
    assert {r: len(other_api.list_all(r)) for r in bodies} == {r: n + 1 for r, n in before.items()}
    assert all(other_api.get(f"/{r}/{own[r]}").json().get(f) is None for r, names in fields.items() for f in names)

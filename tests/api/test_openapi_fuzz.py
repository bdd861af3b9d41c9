"""Schemathesis over the whole OpenAPI document, as one agency, with a second agency's records about.

Every operation gets generated requests (valid and invalid), with path ids drawn partly from both
agencies' real records, so reads, writes and deletes aimed at the other agency are tried too. Checks:
schemathesis' own (no 5xx, status code, media type and body conform to the document) and ours: no
response ever carries one of the other agency's ids, and the other agency's data is unchanged at the end.
Bounded by `MAX_EXAMPLES` per operation to keep the suite fast.
"""

from __future__ import annotations

import json
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.web import app  # the app `crm serve` serves: the API with the dashboard and the live feature SQL
from tests.api.conftest import API, Api
from tests.conftest import make_tenant

MAX_EXAMPLES = 12


def seed(api: Api) -> dict[str, str]:
    """One record of every kind for an agency; returns {kind: id}."""
    company = api.company(domain=None)
    contact = api.contact(f"fuzz-{company['id'][:8]}@example.com", company_id=company["id"])
    pipeline = api.pipeline()
    deal = api.deal(company_id=company["id"], contact_id=contact["id"], pipeline_id=pipeline["id"])
    campaign = api.create("campaigns", {"name": "Spring", "channel": "email"})
    ids = {
        "company": company["id"], "contact": contact["id"], "pipeline": pipeline["id"],
        "stage": pipeline["stages"][0]["id"], "deal": deal["id"], "campaign": campaign["id"],
        "activity": api.create("activities", {"type": "call", "occurred_at": "2026-01-05T10:00:00Z",
                                              "contact_id": contact["id"], "body": "Talked budget."})["id"],
        "note": api.create("notes", {"body": "Prefers email.", "contact_id": contact["id"]})["id"],
        "task": api.create("tasks", {"title": "Call back", "contact_id": contact["id"]})["id"],
    }
    api.post(f"/campaigns/{campaign['id']}/members", {"contact_ids": [contact["id"]]})
    return ids


def snapshot(api: Api) -> dict[str, list]:
    """What an agency can see of itself: every record of every resource, with its version."""
    return {r: sorted((row["id"], row["updated_at"]) for row in api.list_all(r, limit=200))
            for r in ("companies", "contacts", "pipelines", "deals", "activities", "notes", "tasks", "campaigns")}


def is_uuid(value: object) -> bool:
    """Only a well-formed id is swapped for a real one: a malformed one is a negative case to keep."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# Ids of both agencies' records, filled by the `agencies` fixture and read when cases are drawn.
POOL: list[str] = []


@pytest.fixture(scope="module")
def agencies(client):
    mine, theirs = make_tenant("Fuzzer"), make_tenant("Bystander")
    mine_api, theirs_api = Api(client, mine["headers"]), Api(client, theirs["headers"])
    mine_ids, theirs_ids = seed(mine_api), seed(theirs_api)
    POOL[:] = sorted({*mine_ids.values(), *theirs_ids.values()})
    before = snapshot(theirs_api)
    yield {"headers": mine["headers"], "mine": mine_ids, "theirs": theirs_ids}
    assert snapshot(theirs_api) == before, "the fuzzed agency changed another agency's records"


def _served_document() -> schemathesis.specs.openapi.schemas.OpenApiSchema:
    """The document `/openapi.json` serves, loaded without running the app's lifespan: this runs at collection,
    before the session's private CRM_HOME exists, and a lifespan there would start (and leave attached) an
    embedded PostgreSQL in the working directory's `.crm`, shared by every xdist worker."""
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(app.openapi())))
    loaded.app, loaded.location = app, "/openapi.json"   # cases are called on the app, as from_asgi does
    return loaded


schema = _served_document()


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Half the time, aim each id parameter at a real record of either agency.
    ids = {k for k, v in (path_parameters or {}).items() if (k == "id" or k.endswith("_id")) and is_uuid(v)}
    if not ids or not POOL:
        return st.just(path_parameters)
    return st.fixed_dictionaries({k: (st.sampled_from(POOL) | st.just(v)) if k in ids else st.just(v)
                                  for k, v in path_parameters.items()})


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_and_isolates(case, agencies):
    # Schema-valid is not always acceptable: a reference to a missing (or another agency's) record, a
    # cursor we did not issue, a stage of another pipeline are 4xx by design; every other check runs.
    response = case.call_and_validate(headers=agencies["headers"], excluded_checks=[positive_data_acceptance])
    sent = f"{case.formatted_path} {case.query} {case.body}"
    leaked = {i for i in agencies["theirs"].values() if i in response.text and i not in sent}
    assert not leaked, f"{case.method} {case.formatted_path} answered another agency's ids {leaked}"


def test_document_declares_problem_json_everywhere(client):
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        if not path.startswith(API):
            continue
        for method, operation in item.items():
            errors = {s: r for s, r in operation["responses"].items() if s.startswith(("4", "5"))}
            assert {"401", "422"} <= set(errors), f"{method} {path}"
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"

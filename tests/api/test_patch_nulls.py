"""PATCH with an explicit null for a field the record requires is a 422 that says so, never a 500."""

from __future__ import annotations

import pytest

from api.main import app
from tests.api.conftest import Api, assert_problem

REQUIRED = {   # NOT NULL columns that an update schema lets a client change
    "activities": ["type", "occurred_at", "properties"],
    "campaigns": ["name", "channel", "status", "budget", "currency"],
    "companies": ["name", "lifecycle"],
    "contacts": ["email", "first_name", "last_name", "lifecycle_stage"],
    "deals": ["name", "stage_id", "amount", "currency"],
    "notes": ["body"],
    "pipelines": ["name", "is_default"],
    "tasks": ["title", "is_done"],
}


def test_properties_null_is_422(api: Api):
    activity = api.create("activities", {"type": "call", "occurred_at": "2026-03-01T10:00:00Z"})
    body = assert_problem(api.patch(f"/activities/{activity['id']}", {"properties": None}), 422)
    assert body["detail"].startswith("properties:") and "null" in body["detail"]
    assert api.get(f"/activities/{activity['id']}").json()["properties"] == {}


@pytest.mark.parametrize("resource", sorted(REQUIRED))
def test_null_for_a_required_field_is_422(api: Api, resource):
    api.pipeline()
    bodies = {"activities": {"type": "call", "occurred_at": "2026-03-01T10:00:00Z"},
              "campaigns": {"name": "C", "channel": "email"}, "companies": {"name": "Acme"},
              "contacts": {"email": "null@example.com"}, "deals": {"name": "D"}, "notes": {"body": "n"},
              "pipelines": {"name": "P"}, "tasks": {"title": "T"}}
    created = api.create(resource, bodies[resource])
    for field in REQUIRED[resource]:
        body = assert_problem(api.patch(f"/{resource}/{created['id']}", {field: None}), 422)
        assert body["detail"].startswith(f"{field}:"), body


def test_stage_update_refuses_null(api: Api):
    pipeline = api.pipeline(stages=[{"name": "One"}])
    stage = pipeline["stages"][0]
    for field in ("name", "position", "win_probability", "is_won", "is_lost"):
        assert_problem(api.patch(f"/pipelines/{pipeline['id']}/stages/{stage['id']}", {field: None}), 422)


def test_openapi_says_required_fields_are_not_nullable():
    schemas = app.openapi()["components"]["schemas"]
    for resource, fields in REQUIRED.items():
        name = {"activities": "Activity", "campaigns": "Campaign", "companies": "Company", "contacts": "Contact",
                "deals": "Deal", "notes": "Note", "pipelines": "Pipeline", "tasks": "Task"}[resource] + "Update"
        props = schemas[name]["properties"]
        for field in fields:
            types = [props[field].get("type")] + [t.get("type") for t in props[field].get("anyOf", [])]
            assert "null" not in types, (name, field, props[field])

"""Authentication by bearer key and roles: read-only keys cannot write, members and admins can."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.deps import AdminDep
from api.errors import install_error_handlers
from crm.db import one_trip
from crm.db.engine import admin_session
from crm.db.models import ApiKey
from crm.tenancy import create_api_key
from tests.api.conftest import API, Api, assert_problem


def _key_api(client, tenant, role) -> Api:
    key = create_api_key(tenant["tenant_id"], role=role, name=f"{role} key")
    assert key["role"] == role and key["tenant_id"] == tenant["tenant_id"]
    return Api(client, {"Authorization": f"Bearer {key['api_key']}"})


def test_missing_and_unknown_keys_are_401(client):
    body = assert_problem(client.get(f"{API}/contacts"), 401)
    assert "Bearer" in body["detail"]
    r = client.get(f"{API}/contacts", headers={"Authorization": "Bearer crm_nope_nope"})
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert_problem(client.get(f"{API}/contacts", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)


def test_read_only_key_reads_but_cannot_write(client, tenant, api):
    company = api.company()
    reader = _key_api(client, tenant, "read-only")
    assert reader.get("/companies").status_code == 200
    assert reader.get(f"/companies/{company['id']}").json()["id"] == company["id"]
    assert_problem(reader.post("/companies", {"name": "Nope"}), 403)
    assert_problem(reader.patch(f"/companies/{company['id']}", {"name": "Nope"}), 403)
    assert_problem(reader.delete(f"/companies/{company['id']}"), 403)
    assert_problem(reader.post("/pipelines", {"name": "Nope"}), 403)
    assert api.get(f"/companies/{company['id']}").json()["name"] == "Acme"
    assert [c["id"] for c in api.list_all("companies")] == [company["id"]]


@pytest.mark.parametrize("role", ["member", "admin"])
def test_member_and_admin_keys_write(client, tenant, role):
    writer = _key_api(client, tenant, role)
    company = writer.company(name=f"By {role}")
    assert writer.patch(f"/companies/{company['id']}", {"industry": "Media"}).status_code == 200
    assert writer.delete(f"/companies/{company['id']}").status_code == 204


def test_revoked_key_is_refused(client, tenant):
    key = create_api_key(tenant["tenant_id"], role="member")
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    assert client.get(f"{API}/contacts", headers=headers).status_code == 200
    with admin_session() as s:
        row = s.query(ApiKey).filter(ApiKey.tenant_id == tenant["tenant_id"], ApiKey.role == "member").one()
        row.revoked_at = row.created_at
    # revoked outside this worker's code path (as by another worker, or SQL): refused once this worker's lease
    # of admitted requests has run out, LEASE_SECONDS at most
    time.sleep(one_trip.LEASE_SECONDS)
    assert_problem(client.get(f"{API}/contacts", headers=headers), 401)


def test_api_key_is_stored_hashed(tenant):
    with admin_session() as s:
        stored = [k.key_hash for k in s.query(ApiKey).filter(ApiKey.tenant_id == tenant["tenant_id"])]
    assert stored and tenant["api_key"] not in stored
    assert all(len(h) == 64 for h in stored)


def test_admin_dependency_refuses_members(tenant):
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/admin-only")
    def admin_only(principal: AdminDep) -> dict:
        return {"role": principal.role}

    client = TestClient(app)
    member = create_api_key(tenant["tenant_id"], role="member")["api_key"]
    assert_problem(client.get("/admin-only", headers={"Authorization": f"Bearer {member}"}), 403)
    assert client.get("/admin-only", headers=tenant["headers"]).json() == {"role": "admin"}

"""Agencies manage their own access through the API: API keys (list, create, rotate, revoke) and users
(list, invite, accept, change role, deactivate), admins only, within their own tenant, effective at once."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.web import app
from crm.db import one_trip
from crm.db.engine import admin_session, tenant_session
from crm.tenancy import authenticate_api_key, authenticate_user, create_api_key, create_user
from tests.api.conftest import API, Api, assert_problem


def _email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@agency.example"


def _key_api(client, tenant, role: str) -> Api:
    key = create_api_key(tenant["tenant_id"], role=role, name=f"{role} key")
    return Api(client, {"Authorization": f"Bearer {key['api_key']}"})


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _admin_user_id(api: Api, email: str) -> str:
    return next(u["id"] for u in api.get("/users").json()["data"] if u["email"] == email)


# ---------------------------------------------------------------- API keys

def test_create_list_and_use_a_key(client, api):
    r = api.post("/api-keys", {"name": "Zapier", "role": "read-only"})
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["api_key"].startswith("crm_") and issued["role"] == "read-only" and issued["name"] == "Zapier"
    assert issued["last_used_at"] is None and issued["revoked_at"] is None
    listed = api.get("/api-keys").json()["data"]
    assert {k["id"] for k in listed} >= {issued["id"]}
    for k in listed:  # secrets never come back
        assert "api_key" not in k and "key_hash" not in k
    assert client.get(f"{API}/contacts", headers=_bearer(issued["api_key"])).status_code == 200
    one = next(k for k in api.get("/api-keys").json()["data"] if k["id"] == issued["id"])
    assert one["last_used_at"] is not None and one["prefix"] in issued["api_key"]


def test_create_key_validates_its_role(api):
    assert_problem(api.post("/api-keys", {"role": "owner"}), 422)
    assert_problem(api.post("/api-keys", {"name": "x", "secret": "y"}), 422)


def test_revoked_key_is_refused_at_once(client, api):
    issued = api.post("/api-keys", {"name": "temp"}).json()
    headers = _bearer(issued["api_key"])
    assert client.get(f"{API}/contacts", headers=headers).status_code == 200
    assert api.delete(f"/api-keys/{issued['id']}").status_code == 204
    assert_problem(client.get(f"{API}/contacts", headers=headers), 401)
    assert authenticate_api_key(issued["api_key"]) is None
    row = next(k for k in api.get("/api-keys").json()["data"] if k["id"] == issued["id"])
    assert row["revoked_at"] is not None
    assert api.delete(f"/api-keys/{issued['id']}").status_code == 204  # revoking twice is harmless


def test_rotate_gives_a_new_secret_and_kills_the_old_one(client, api):
    issued = api.post("/api-keys", {"name": "CI", "role": "member"}).json()
    r = api.post(f"/api-keys/{issued['id']}/rotate")
    assert r.status_code == 201, r.text
    rotated = r.json()
    assert rotated["api_key"] != issued["api_key"] and rotated["id"] != issued["id"]
    assert (rotated["name"], rotated["role"]) == ("CI", "member")
    assert_problem(client.get(f"{API}/contacts", headers=_bearer(issued["api_key"])), 401)
    assert client.get(f"{API}/contacts", headers=_bearer(rotated["api_key"])).status_code == 200
    assert_problem(api.post(f"/api-keys/{issued['id']}/rotate"), 409)  # a revoked key cannot be rotated


def test_admin_revokes_the_calling_key_only_when_confirmed(client, tenant, api):
    me = next(k for k in api.get("/api-keys").json()["data"] if k["name"] == "initial admin key")
    body = assert_problem(api.delete(f"/api-keys/{me['id']}"), 409)
    assert "confirm=self" in body["detail"]
    assert api.get("/api-keys").status_code == 200  # still works
    assert api.delete(f"/api-keys/{me['id']}", params={"confirm": "self"}).status_code == 204
    assert_problem(api.get("/api-keys"), 401)


def test_rotating_the_calling_key_hands_over_the_new_one(client, api):
    me = next(k for k in api.get("/api-keys").json()["data"] if k["name"] == "initial admin key")
    new = api.post(f"/api-keys/{me['id']}/rotate").json()
    assert_problem(api.get("/api-keys"), 401)
    assert client.get(f"{API}/api-keys", headers=_bearer(new["api_key"])).status_code == 200


def test_last_used_at_is_stamped_at_a_bounded_rate(client, tenant):
    key = create_api_key(tenant["tenant_id"], role="member")
    with tenant_session(tenant["tenant_id"]) as s:
        before = s.execute(text("select last_used_at from api_keys where prefix = :p"),
                           {"p": key["api_key"].split("_")[1]}).scalar()
    assert before is None
    assert client.get(f"{API}/contacts", headers=_bearer(key["api_key"])).status_code == 200
    with tenant_session(tenant["tenant_id"]) as s:
        first = s.execute(text("select last_used_at from api_keys where prefix = :p"),
                          {"p": key["api_key"].split("_")[1]}).scalar()
    assert first is not None
    assert client.get(f"{API}/contacts", headers=_bearer(key["api_key"])).status_code == 200
    with tenant_session(tenant["tenant_id"]) as s:
        second = s.execute(text("select last_used_at from api_keys where prefix = :p"),
                           {"p": key["api_key"].split("_")[1]}).scalar()
        # an old stamp is refreshed on the next use
        s.execute(text("update api_keys set last_used_at = now() - interval '5 minutes' where prefix = :p"),
                  {"p": key["api_key"].split("_")[1]})
    assert second == first  # within a minute, no second write
    time.sleep(one_trip.LEASE_SECONDS)   # this worker's lease of admitted requests runs out: the next is admitted
    assert client.get(f"{API}/contacts", headers=_bearer(key["api_key"])).status_code == 200
    with tenant_session(tenant["tenant_id"]) as s:
        third = s.execute(text("select last_used_at from api_keys where prefix = :p"),
                          {"p": key["api_key"].split("_")[1]}).scalar()
    assert third > first


def test_the_key_auth_function_may_write_only_last_used_at():
    with admin_session() as s:
        owner = s.execute(text("select pg_get_userbyid(proowner) from pg_proc where proname = 'auth_api_key'")).scalar()
        writable = s.execute(text(
            "select array_agg(column_name::text order by column_name) from information_schema.column_privileges "
            "where grantee = :o and table_name = 'api_keys' and privilege_type = 'UPDATE'"), {"o": owner}).scalar()
        other_writes = s.execute(text(
            "select count(*) from information_schema.table_privileges where grantee = :o "
            "and privilege_type in ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')"), {"o": owner}).scalar()
    assert writable == ["last_used_at"] and other_writes == 0


# ---------------------------------------------------------------- users

def test_list_and_get_users(api, tenant):
    users = api.get("/users").json()["data"]
    assert [u["email"] for u in users] == [tenant["admin_email"]]
    assert users[0]["role"] == "admin" and users[0]["is_active"] is True and "password_hash" not in users[0]
    one = api.get(f"/users/{users[0]['id']}").json()
    assert one["email"] == tenant["admin_email"]
    assert_problem(api.get(f"/users/{uuid.uuid4()}"), 404)


def test_invite_accept_and_sign_in(client, api):
    email = _email("invitee")
    r = api.post("/users", {"email": email, "role": "member", "name": "Ines"})
    assert r.status_code == 201, r.text
    invite = r.json()
    assert invite["email"] == email and invite["role"] == "member"
    assert re.fullmatch(r"/invite/[A-Za-z0-9_-]{30,}", invite["invite_link"])
    assert invite["invite_url"].endswith(invite["invite_link"])
    assert authenticate_user(email, "a-long-password") is None  # nobody yet

    from crm.access import accept_invitation

    principal = accept_invitation(invite["invite_link"].rsplit("/", 1)[1], "Ines Invited", "a-long-password")
    assert principal.role == "member"
    signed_in = authenticate_user(email, "a-long-password")
    assert signed_in is not None and signed_in.name == "Ines Invited"
    assert any(u["email"] == email and u["is_active"] for u in api.get("/users").json()["data"])
    from crm.access import InvitationInvalid

    with pytest.raises(InvitationInvalid):  # the token works once
        accept_invitation(invite["invite_link"].rsplit("/", 1)[1], "Again", "a-long-password")


def test_invite_refuses_a_member_of_the_workspace_and_bad_input(api, tenant):
    assert_problem(api.post("/users", {"email": tenant["admin_email"]}), 409)
    assert_problem(api.post("/users", {"email": "not-an-email"}), 422)
    assert_problem(api.post("/users", {"email": _email(), "role": "owner"}), 422)


def test_expired_invitation_cannot_be_accepted(api):
    from crm.access import InvitationInvalid, accept_invitation

    invite = api.post("/users", {"email": _email("late")}).json()
    with admin_session() as s:
        s.execute(text("update invitations set expires_at = now() - interval '1 second' where id = :i"),
                  {"i": invite["id"]})
    with pytest.raises(InvitationInvalid):
        accept_invitation(invite["invite_link"].rsplit("/", 1)[1], "Late", "a-long-password")


def test_change_role_and_deactivate_take_effect_at_once(api, tenant):
    email = _email("staff")
    create_user(tenant["tenant_id"], email, "staff-password", role="member")
    uid = _admin_user_id(api, email)
    r = api.patch(f"/users/{uid}", {"role": "read-only"})
    assert r.status_code == 200 and r.json()["role"] == "read-only"
    assert authenticate_user(email, "staff-password").role == "read-only"
    r = api.patch(f"/users/{uid}", {"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert authenticate_user(email, "staff-password") is None
    assert api.patch(f"/users/{uid}", {"is_active": True}).json()["is_active"] is True
    assert authenticate_user(email, "staff-password") is not None
    assert_problem(api.patch(f"/users/{uid}", {"role": "owner"}), 422)
    assert_problem(api.patch(f"/users/{uid}", {"email": "x@y.example"}), 422)


def test_last_active_admin_is_protected(api, tenant):
    admin_id = _admin_user_id(api, tenant["admin_email"])
    assert "last active admin" in assert_problem(api.patch(f"/users/{admin_id}", {"role": "member"}), 409)["detail"]
    assert_problem(api.patch(f"/users/{admin_id}", {"is_active": False}), 409)
    second = _email("admin2")
    create_user(tenant["tenant_id"], second, "second-password", role="admin")
    assert api.patch(f"/users/{admin_id}", {"role": "member"}).status_code == 200
    second_id = _admin_user_id(api, second)
    assert_problem(api.patch(f"/users/{second_id}", {"is_active": False}), 409)
    # an inactive admin does not count
    assert api.patch(f"/users/{admin_id}", {"role": "admin", "is_active": False}).status_code == 200
    assert_problem(api.patch(f"/users/{second_id}", {"role": "read-only"}), 409)


# ---------------------------------------------------------------- roles and tenants

@pytest.mark.parametrize("role", ["member", "read-only"])
def test_only_admins_manage_access(client, tenant, api, role):
    other = _key_api(client, tenant, role)
    key_id = api.get("/api-keys").json()["data"][0]["id"]
    user_id = api.get("/users").json()["data"][0]["id"]
    for r in (other.get("/api-keys"), other.post("/api-keys", {"name": "x"}), other.post(f"/api-keys/{key_id}/rotate"),
              other.delete(f"/api-keys/{key_id}"), other.get("/users"), other.get(f"/users/{user_id}"),
              other.post("/users", {"email": _email()}), other.patch(f"/users/{user_id}", {"role": "member"})):
        assert_problem(r, 403)
    assert api.get("/api-keys").status_code == 200  # nothing was revoked


def test_another_agencys_keys_and_users_are_404_and_unchanged(client, api, other_api, other_tenant):
    their_key = other_api.post("/api-keys", {"name": "theirs"}).json()
    their_user = other_api.get("/users").json()["data"][0]
    assert_problem(api.delete(f"/api-keys/{their_key['id']}"), 404)
    assert_problem(api.post(f"/api-keys/{their_key['id']}/rotate"), 404)
    assert_problem(api.get(f"/users/{their_user['id']}"), 404)
    assert_problem(api.patch(f"/users/{their_user['id']}", {"is_active": False}), 404)
    assert their_key["id"] not in {k["id"] for k in api.get("/api-keys").json()["data"]}
    assert client.get(f"{API}/contacts", headers=_bearer(their_key["api_key"])).status_code == 200
    mine = {u["email"] for u in api.get("/users").json()["data"]}
    assert other_tenant["admin_email"] not in mine
    assert other_api.get(f"/users/{their_user['id']}").json()["is_active"] is True


def test_malformed_ids_are_422_or_404(api):
    assert api.delete("/api-keys/not-a-uuid").status_code == 422
    assert_problem(api.patch(f"/users/{uuid.uuid4()}", {"role": "member"}), 404)


# ---------------------------------------------------------------- dashboard session ends at once

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_deactivated_user_dashboard_session_ends_at_once(api, tenant):
    email = _email("leaver")
    create_user(tenant["tenant_id"], email, "leaver-password", role="member")
    with TestClient(app, follow_redirects=False) as browser:
        token = CSRF_INPUT.search(browser.get("/login").text).group(1)
        r = browser.post("/login", data={"email": email, "password": "leaver-password", "csrf_token": token,
                                         "next": "/"})
        assert r.status_code == 303
        assert browser.get("/").status_code == 200
        assert api.patch(f"/users/{_admin_user_id(api, email)}", {"is_active": False}).status_code == 200
        r = browser.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

"""The Settings page (admins only) and the public invitation page, over HTTP against the real app."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from app.web import app
from crm.tenancy import authenticate_api_key, authenticate_user, create_api_key, create_user

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client():
    with TestClient(app, follow_redirects=False) as c:
        yield c


def login(client: TestClient, email: str, password: str):
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return r


def csrf(client: TestClient) -> str:
    return CSRF_INPUT.search(client.get("/settings").text).group(1)


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@agency.example"


def test_settings_is_for_admins_only(client, tenant):
    email = _email("member")
    create_user(tenant["tenant_id"], email, "member-password", role="member")
    login(client, email, "member-password")
    assert 'href="/settings"' not in client.get("/").text
    r = client.get("/settings")
    assert r.status_code == 403 and "Admins only" in r.text
    token = CSRF_INPUT.search(client.get("/").text).group(1)
    assert client.post("/settings/api-keys", data={"name": "x", "csrf_token": token}).status_code == 403
    client.cookies.clear()
    r = client.get("/settings")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_admin_manages_keys_on_the_page(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    page = client.get("/")
    assert 'href="/settings"' in page.text
    r = client.get("/settings")
    assert r.status_code == 200 and tenant["admin_email"] in r.text and "initial admin key" in r.text
    assert tenant["api_key"] not in r.text

    r = client.post("/settings/api-keys", data={"name": "Zapier", "role": "read-only", "csrf_token": csrf(client)})
    assert r.status_code == 200
    key = re.search(r"<code data-api-key>([^<]+)</code>", r.text).group(1)
    assert authenticate_api_key(key).role == "read-only"
    assert key not in client.get("/settings").text  # shown once

    key_id = re.search(r'data-key="([0-9a-f-]+)">\s*<td class="strong">Zapier', r.text).group(1)
    r = client.post(f"/settings/api-keys/{key_id}/rotate", data={"csrf_token": csrf(client)})
    new_key = re.search(r"<code data-api-key>([^<]+)</code>", r.text).group(1)
    assert authenticate_api_key(key) is None and authenticate_api_key(new_key).role == "read-only"

    new_id = re.search(r'data-key="([0-9a-f-]+)">\s*<td class="strong">Zapier</td>\s*<td><code>crm_'
                       + new_key.split("_")[1], r.text).group(1)
    r = client.post(f"/settings/api-keys/{new_id}/revoke", data={"csrf_token": csrf(client)})
    assert r.status_code == 303 and authenticate_api_key(new_key) is None
    # a forged form changes nothing
    still = create_api_key(tenant["tenant_id"], name="kept")
    kept_id = re.search(r'data-key="([0-9a-f-]+)">\s*<td class="strong">kept', client.get("/settings").text).group(1)
    assert client.post(f"/settings/api-keys/{kept_id}/revoke", data={"csrf_token": "forged"}).status_code == 403
    assert authenticate_api_key(still["api_key"]) is not None


def test_other_agencys_ids_are_404_pages(client, tenant, other_tenant):
    from crm.db.engine import tenant_session
    from crm.db.models import ApiKey, User

    with tenant_session(other_tenant["tenant_id"]) as s:
        their_key = s.query(ApiKey).one().id
        their_user = s.query(User).one().id
    login(client, tenant["admin_email"], tenant["password"])
    token = csrf(client)
    assert client.post(f"/settings/api-keys/{their_key}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/settings/users/{their_user}", data={"is_active": "false",
                                                              "csrf_token": token}).status_code == 404
    assert authenticate_api_key(other_tenant["api_key"]) is not None
    assert authenticate_user(other_tenant["admin_email"], other_tenant["password"]) is not None


def test_invite_accept_sign_in_then_deactivate(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    email = _email("newbie")
    r = client.post("/settings/users/invite", data={"email": email, "name": "Nia", "role": "member",
                                                    "csrf_token": csrf(client)})
    assert r.status_code == 200
    url = re.search(r"<code data-invite-url>([^<]+)</code>", r.text).group(1)
    path = url.removeprefix("http://testserver")
    assert path.startswith("/invite/") and url not in client.get("/settings").text

    with TestClient(app, follow_redirects=False) as invitee:
        page = invitee.get(path)
        assert page.status_code == 200 and email in page.text and page.headers["referrer-policy"] == "no-referrer"
        token = CSRF_INPUT.search(page.text).group(1)
        r = invitee.post(path, data={"name": "Nia N", "password": "nia-password-1", "password2": "different-1",
                                     "csrf_token": token})
        assert r.status_code == 422 and "differ" in r.text
        assert invitee.post(path, data={"name": "Nia N", "password": "nia-password-1", "password2": "nia-password-1",
                                        "csrf_token": "forged"}).status_code == 403
        r = invitee.post(path, data={"name": "Nia N", "password": "nia-password-1", "password2": "nia-password-1",
                                     "csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert invitee.get(path).status_code == 404  # used up
        login(invitee, email, "nia-password-1")
        assert invitee.get("/").status_code == 200
        assert invitee.get("/settings").status_code == 403

        # the admin deactivates her: her very next request is signed out
        uid = re.search(r'data-user="' + re.escape(email) + r'">.*?/settings/users/([0-9a-f-]+)',
                        client.get("/settings").text, re.S).group(1)
        r = client.post(f"/settings/users/{uid}", data={"is_active": "false", "csrf_token": csrf(client)})
        assert r.status_code == 303
        r = invitee.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_last_admin_cannot_demote_themselves_on_the_page(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    page = client.get("/settings").text
    uid = re.search(r'data-user="' + re.escape(tenant["admin_email"]) + r'">.*?/settings/users/([0-9a-f-]+)',
                    page, re.S).group(1)
    r = client.post(f"/settings/users/{uid}", data={"role": "member", "csrf_token": csrf(client)})
    assert r.status_code == 409 and "last active admin" in r.text
    assert client.get("/settings").status_code == 200  # still admin

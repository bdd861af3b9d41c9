"""Sign-in, session cookie and CSRF rules, checked over HTTP against the real app (no browser needed)."""

from __future__ import annotations

import base64
import json
import re
import secrets

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.web import app
from crm.db.engine import admin_session, tenant_session
from crm.security import hash_password
from crm.settings import get_settings
from crm.tenancy import create_user

OLD_PUBLIC_SECRET = "dev-insecure-secret-change-me"  # what every install signed sessions with before

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client():
    with TestClient(app, follow_redirects=False) as c:
        yield c


def login(client: TestClient, email: str, password: str, next_: str = "/"):
    page = client.get("/login")
    token = CSRF_INPUT.search(page.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": next_})


def csrf_of(client: TestClient) -> str:
    return CSRF_INPUT.search(client.get("/contacts/new").text).group(1)


def test_session_cookie_is_signed_httponly_and_lax(client, tenant):
    r = login(client, tenant["admin_email"], tenant["password"])
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("crm_session=") and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert client.get("/").status_code == 200
    # a tampered cookie is no session at all
    value = client.cookies.get("crm_session")
    client.cookies.clear()
    client.cookies.set("crm_session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_sign_in_needs_csrf_token_and_refuses_open_redirects(client, tenant):
    # no session at all, so no token: the empty token must not match the missing one
    r = client.post("/login", data={"email": tenant["admin_email"], "password": tenant["password"]})
    assert r.status_code == 403 and "expired" in r.text
    r = client.post("/login", data={"email": tenant["admin_email"], "password": tenant["password"],
                                    "csrf_token": ""})
    assert r.status_code == 403
    client.get("/login")
    r = client.post("/login", data={"email": tenant["admin_email"], "password": tenant["password"]})
    assert r.status_code == 403 and "expired" in r.text
    r = login(client, tenant["admin_email"], tenant["password"], next_="//evil.example/steal")
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = client.post("/logout", data={"csrf_token": "wrong"})
    assert r.status_code == 403
    r = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert r.status_code == 303 and client.get("/").status_code == 303


def test_cookie_authenticated_api_writes_need_the_csrf_header(client, tenant):
    api_key = tenant["headers"]
    company = client.post("/api/v1/companies", json={"name": "Initech"}, headers=api_key)
    assert company.status_code == 201 and "set-cookie" not in company.headers  # API key clients get no cookie
    cid = company.json()["id"]
    login(client, tenant["admin_email"], tenant["password"])
    assert client.get(f"/api/v1/companies/{cid}").status_code == 200
    r = client.patch(f"/api/v1/companies/{cid}", json={"industry": "Software"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    r = client.patch(f"/api/v1/companies/{cid}", json={"industry": "Software"}, headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403
    r = client.patch(f"/api/v1/companies/{cid}", json={"industry": "Software"},
                     headers={"X-CSRF-Token": csrf_of(client)})
    assert r.status_code == 200 and r.json()["industry"] == "Software"
    # a Bearer key wins over the cookie and needs no CSRF header, exactly as before
    r = client.patch(f"/api/v1/companies/{cid}", json={"industry": "SaaS"}, headers=api_key)
    assert r.status_code == 200


def test_forms_refuse_a_wrong_csrf_token(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    r = client.post("/contacts/new", data={"email": "x@example.com", "csrf_token": "forged"})
    assert r.status_code == 403
    r = client.get("/api/v1/contacts", headers=tenant["headers"])
    assert r.json()["data"] == []


def test_read_only_users_can_look_but_not_change(client, tenant):
    create_user(tenant["tenant_id"], "viewer@readonly.example", "viewer-pass", role="read-only")
    login(client, "viewer@readonly.example", "viewer-pass")
    assert client.get("/leads").status_code == 200
    assert client.get("/contacts/new").status_code == 403
    r = client.post("/api/v1/companies", json={"name": "Nope"}, headers={"X-CSRF-Token": csrf_of_page(client)})
    assert r.status_code == 403


def csrf_of_page(client: TestClient) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/leads").text).group(1)


def test_deactivated_user_is_signed_out_at_once(client, tenant):
    create_user(tenant["tenant_id"], "leaver@agency.example", "leaver-pass")
    login(client, "leaver@agency.example", "leaver-pass")
    assert client.get("/").status_code == 200
    with tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("update users set is_active = false where email = 'leaver@agency.example'"))
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_malformed_and_foreign_ids_are_404_pages(client, tenant, other_tenant):
    theirs = client.post("/api/v1/contacts", json={"email": "secret@rival.example"}, headers=other_tenant["headers"])
    login(client, tenant["admin_email"], tenant["password"])
    for url in ("/contacts/not-a-uuid", f"/contacts/{theirs.json()['id']}", f"/notes/{theirs.json()['id']}/edit",
                f"/sources/note/{theirs.json()['id']}"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "text/html" in r.headers["content-type"] and "secret@rival" not in r.text


def test_repeated_failed_sign_ins_are_throttled(client, tenant):
    for _ in range(5):  # a few free attempts, then back-off
        assert login(client, tenant["admin_email"], "guess").status_code == 401
    r = login(client, tenant["admin_email"], tenant["password"])
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    assert 1 <= int(r.headers["retry-after"]) <= 15 * 60


def forged_cookie(payload: dict, secret: str) -> str:
    """A session cookie exactly as Starlette's SessionMiddleware writes it, signed with `secret`."""
    return itsdangerous.TimestampSigner(secret).sign(base64.b64encode(json.dumps(payload).encode())).decode()


def user_id(tenant_id: str, email: str) -> str:
    with tenant_session(tenant_id) as s:
        return str(s.execute(text("select id from users where email = :e"), {"e": email}).scalar_one())


def assert_signed_out(client: TestClient, cookie: str) -> None:
    client.cookies.clear()
    client.cookies.set("crm_session", cookie)
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    client.cookies.set("crm_session", cookie)
    assert client.get("/api/v1/companies").status_code == 401
    client.cookies.set("crm_session", cookie)
    r = client.post("/api/v1/companies", json={"name": "Forged"}, headers={"X-CSRF-Token": "x"})
    assert r.status_code == 401


def test_a_cookie_forged_with_the_old_public_secret_is_refused(client, tenant):
    uid = user_id(tenant["tenant_id"], tenant["admin_email"])
    for payload in ({"uid": uid, "tid": tenant["tenant_id"], "csrf": "x"},
                    {"sid": secrets.token_urlsafe(32), "tid": tenant["tenant_id"], "csrf": "x"}):
        assert_signed_out(client, forged_cookie(payload, OLD_PUBLIC_SECRET))
    assert client.get("/api/v1/companies", headers=tenant["headers"]).json()["data"] == []


def test_even_the_real_key_cannot_make_a_session_up(client, tenant):
    """The cookie carries a random session id that must exist in the database: a user id is not enough."""
    uid = user_id(tenant["tenant_id"], tenant["admin_email"])
    key = get_settings().session_secret
    for payload in ({"uid": uid, "tid": tenant["tenant_id"], "csrf": "x"},
                    {"sid": secrets.token_urlsafe(32), "tid": tenant["tenant_id"], "csrf": "x"}):
        assert_signed_out(client, forged_cookie(payload, key))


def test_logout_revokes_the_session_on_the_server(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    cookie = client.cookies.get("crm_session")
    assert client.get("/api/v1/companies").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 303
    assert_signed_out(client, cookie)  # replaying the old cookie, still validly signed, opens nothing


def test_sign_in_rotates_the_session_id(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    first = client.cookies.get("crm_session")
    r = client.post("/login", data={"email": tenant["admin_email"], "password": tenant["password"],
                                    "csrf_token": csrf_of(client)})
    assert r.status_code == 303
    second = client.cookies.get("crm_session")
    assert second != first and client.get("/").status_code == 200
    assert_signed_out(client, first)


@pytest.mark.parametrize("change", [
    "update users set password_hash = :h where id = :u",
    "update users set role = 'read-only' where id = :u",
    "update users set is_active = false where id = :u",
])
@pytest.mark.parametrize("as_operator", [False, True], ids=["tenant-admin", "operator"])
def test_password_role_or_deactivation_ends_the_users_sessions_at_once(client, tenant, change, as_operator):
    email = f"staff-{secrets.token_hex(4)}@agency.example"
    create_user(tenant["tenant_id"], email, "staff-password", role="member")
    uid = user_id(tenant["tenant_id"], email)
    login(client, email, "staff-password")
    cookie = client.cookies.get("crm_session")
    assert client.get("/").status_code == 200
    with (admin_session() if as_operator else tenant_session(tenant["tenant_id"])) as s:
        s.execute(text(change), {"u": uid, "h": hash_password("new-password")})
    assert_signed_out(client, cookie)


def test_unrelated_user_changes_keep_the_session(client, tenant):
    login(client, tenant["admin_email"], tenant["password"])
    with tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("update users set name = 'Renamed' where email = :e"), {"e": tenant["admin_email"]})
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("aged", ["expires_at = now() - interval '1 second'",
                                  "last_seen_at = now() - interval '2 hours 1 minute'"], ids=["expired", "idle"])
def test_expired_or_idle_sessions_are_over(client, tenant, aged):
    login(client, tenant["admin_email"], tenant["password"])
    cookie = client.cookies.get("crm_session")
    with admin_session() as s:
        s.execute(text(f"update user_sessions set {aged} where tenant_id = :t"), {"t": tenant["tenant_id"]})
    assert_signed_out(client, cookie)

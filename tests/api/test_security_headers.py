"""Every response carries the browser security headers: pages, API answers, errors (404, 401, 422, 500),
static files and the API docs. HSTS only in production, where the site is served over HTTPS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web import create_app

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
CSP_MUST = ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'",
            "form-action 'self'")


@pytest.fixture(scope="module")
def app_client():
    app = create_app()

    @app.get("/_test/boom", include_in_schema=False)
    def boom():
        raise RuntimeError("an unexpected failure")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def assert_secured(response) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    assert "camera=()" in response.headers.get("permissions-policy", "")
    csp = response.headers.get("content-security-policy", "")
    for directive in CSP_MUST:
        assert directive in csp, (response.request.url, csp)
    assert "unsafe-eval" not in csp
    assert "strict-transport-security" not in response.headers  # not in development or tests


@pytest.mark.parametrize("path, status", [
    ("/login", 200),  # a dashboard page
    ("/leads", 303),  # a page redirecting to sign-in
    ("/healthz", 200),
    ("/openapi.json", 200),
    ("/api/v1/contacts", 401),
    ("/api/v1/nowhere", 404),
    ("/static/app.css", 200),
    ("/docs", 200),
    ("/redoc", 200),
    ("/_test/boom", 500),
])
def test_every_kind_of_response_carries_the_headers(app_client, path, status):
    r = app_client.get(path, follow_redirects=False)
    assert r.status_code == status
    assert_secured(r)


def test_a_validation_error_carries_the_headers(app_client, tenant):
    r = app_client.post("/api/v1/contacts", json={"email": 42}, headers=tenant["headers"])
    assert r.status_code == 422
    assert_secured(r)


def test_pages_do_not_allow_inline_scripts(app_client):
    csp = app_client.get("/login").headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src


def test_hsts_only_in_production(monkeypatch):
    from crm.settings import reset_settings

    monkeypatch.setenv("CRM_ENV", "production")
    reset_settings()
    try:
        with TestClient(create_app()) as c:
            r = c.get("/healthz")
        assert r.headers["strict-transport-security"].startswith("max-age=")
    finally:
        monkeypatch.setenv("CRM_ENV", "test")
        reset_settings()

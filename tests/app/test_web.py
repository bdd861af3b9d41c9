"""app.web joins the API and the dashboard; api.main alone is the API, with nothing of the dashboard."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app as create_api
from app.web import create_app


def test_the_web_app_serves_api_docs_and_dashboard_with_security_headers():
    with TestClient(create_app(), follow_redirects=False) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/docs").status_code == 200
        login = c.get("/login")
        assert login.status_code == 200 and "text/html" in login.headers["content-type"]
        assert c.get("/static/app.css").status_code == 200
        assert c.get("/").headers["location"].startswith("/login")  # the dashboard's own redirect
        assert login.headers["x-frame-options"] == "DENY"


def test_the_bare_api_mounts_no_dashboard():
    with TestClient(create_api(), follow_redirects=False) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/docs").status_code == 200
        r = c.get("/login")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert c.get("/static/app.css").status_code == 404

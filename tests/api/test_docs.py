"""The API documents itself: /docs and /openapi.json load and list every resource."""

from __future__ import annotations


def test_openapi_lists_every_resource(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for resource in ("companies", "contacts", "pipelines", "deals", "activities", "notes", "tasks", "campaigns"):
        assert f"/api/v1/{resource}" in paths and f"/api/v1/{resource}/{{id}}" in paths
    assert "/healthz" in paths
    assert "/api/v1/imports/{entity}" in paths


def test_docs_page_loads(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}

"""API test helpers: a TestClient on the real app and small factories that create rows through the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web import app

API = "/api/v1"


@pytest.fixture(scope="module")
def client() -> TestClient:
    with TestClient(app) as c:
        yield c


class Api:
    """Calls the API as one tenant's key; factories return the created JSON and assert the status."""

    def __init__(self, client: TestClient, headers: dict):
        self.client, self.headers = client, headers

    def _call(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, API + path, headers=headers, **kw)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self._call("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._call("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)

    def create(self, resource: str, body: dict) -> dict:
        r = self.post(f"/{resource}", body)
        assert r.status_code == 201, r.text
        return r.json()

    def company(self, **kw) -> dict:
        return self.create("companies", {"name": "Acme", **kw})

    def contact(self, email: str, **kw) -> dict:
        return self.create("contacts", {"email": email, **kw})

    def pipeline(self, **kw) -> dict:
        return self.create("pipelines", {"name": "Sales", **kw})

    def deal(self, **kw) -> dict:
        return self.create("deals", {"name": "Retainer", **kw})

    def list_all(self, resource: str, limit: int = 50, **params) -> list[dict]:
        rows, cursor = [], None
        while True:
            q = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
            r = self.get(f"/{resource}", params=q)
            assert r.status_code == 200, r.text
            body = r.json()
            rows += body["data"]
            cursor = body["next_cursor"]
            if cursor is None:
                return rows


@pytest.fixture
def api(client, tenant) -> Api:
    return Api(client, tenant["headers"])


@pytest.fixture
def other_api(client, other_tenant) -> Api:
    return Api(client, other_tenant["headers"])


def assert_problem(response, status: int) -> dict:
    """Every error is RFC 9457 problem+json with the four members the contract promises."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body

"""/docs (Swagger UI) and /redoc load everything from this server: no CDN, no font service, and their
inline script is allowed by hash, not by 'unsafe-inline'."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture(scope="module")
def docs_client():
    with TestClient(create_app()) as c:
        yield c


def referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_reference_only_this_server_and_every_asset_answers(docs_client, page):
    html = docs_client.get(page).text
    urls = referenced_urls(html)
    assert len(urls) >= 3, urls  # the bundle, a stylesheet or favicon, the OpenAPI document
    assert not re.search(r"https?://|//[a-z]", html, re.IGNORECASE), "an external origin in the page"
    for url in urls:
        assert not urlparse(url).netloc and url.startswith("/"), url
        assert docs_client.get(url).status_code == 200, url


def test_swagger_inline_script_is_allowed_by_its_hash(docs_client):
    r = docs_client.get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
    assert scripts, "Swagger UI's initialisation script"
    csp = r.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src

"""/docs (Swagger UI) and /redoc served from this server: the bundles come from the fastapi-offline
package, so the docs work offline and load nothing from a CDN or a font service.

Swagger UI is started by one inline script; the page's Content-Security-Policy allows exactly that
script by its SHA-256 hash (it is the same for every request), not by 'unsafe-inline'. Both UIs set
inline styles (ReDoc injects <style> elements), so their pages allow inline *styles*; blob: workers are
ReDoc's search.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.security_headers import content_security_policy

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"


def _inline_script_hashes(html: str) -> str:
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)


def _page(html: HTMLResponse) -> HTMLResponse:
    body = html.body.decode()
    csp = content_security_policy(script_src=f"'self' {_inline_script_hashes(body)}".strip(),
                                  style_src="'self' 'unsafe-inline'", worker_src="'self' blob:")
    return HTMLResponse(body, headers={"Content-Security-Policy": csp})


def install_docs(app: FastAPI) -> None:
    """Call with FastAPI(docs_url=None, redoc_url=None): these routes replace the CDN-backed ones."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"
    swagger = _page(get_swagger_ui_html(
        openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=favicon,
        swagger_ui_parameters={"validatorUrl": None}))  # no spec validation badge from swagger.io
    redoc = _page(get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc",
                                 redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=favicon,
                                 with_google_fonts=False))

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return swagger

    @app.get("/redoc", include_in_schema=False)
    def redoc_ui() -> HTMLResponse:
        return redoc

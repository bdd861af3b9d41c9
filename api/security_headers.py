"""Browser security headers on every response: pages, API answers, errors, static files, docs.

A pure ASGI wrapper around the *whole* app (outside Starlette's ServerErrorMiddleware, so a 500 carries
them too). A header a route already set wins: /docs sends its own Content-Security-Policy with the hash
of Swagger UI's inline script.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Dashboard pages use no inline script (app.js only) and no <style> element; style *attributes* (score
# meters' widths, icon masks) are allowed: they cannot run code. The icon masks are data: SVGs.
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(**overrides: str) -> str:
    """The policy, with some directives replaced (names with underscores: script_src=...)."""
    directives = CSP | {name.replace("_", "-"): value for name, value in overrides.items()}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(production: bool) -> list[tuple[str, str]]:
    headers = [
        ("content-security-policy", content_security_policy()),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ("cross-origin-opener-policy", "same-origin"),
    ]
    if production:  # only where the site is served over HTTPS; a browser would then refuse plain http
        headers.append(("strict-transport-security", HSTS))
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, headers: list[tuple[str, str]]):
        self.app, self.headers = app, headers
        self.raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                present = {name.lower() for name, _ in raw}
                raw += [header for header in self.raw if header[0] not in present]
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI) -> None:
    """Wrap the app's whole middleware stack, built on the first request (settings are read then)."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        from crm.settings import get_settings

        return SecurityHeaders(build(), security_headers(get_settings().crm_env == "production"))

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]

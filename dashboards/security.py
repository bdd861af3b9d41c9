"""Who is signed in (server-side session), CSRF tokens, and the pages shown for auth and 404 errors.

The cookie (decoded by Starlette's SessionMiddleware, signed with itsdangerous and the session secret)
holds a random session token, the tenant id and the CSRF token. Each request checks the token's row in
`user_sessions` joined with its user (crm.sessions), so logout, expiry, deactivation, a new password or a
new role end the session at once. The resulting Principal goes to `request.state.principal`, which is
where api/deps.py looks when no Bearer key is sent: the dashboard's own fetch() calls use the same API.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Receive, Scope, Send

from crm.problems import problem
from crm.sessions import end_session, load_session, start_session
from crm.tenancy import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def csrf_token(session: dict) -> str:
    """The session's CSRF token, created on first use (so API-only callers never get a cookie)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_matches(sent: str, session: dict) -> bool:
    """A session without a token matches nothing (an empty field must not equal a missing token)."""
    expected = session.get("csrf") or ""
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


def sign_in(session: dict, principal: Principal, tenant_name: str) -> None:
    """A new server-side session with a new id and CSRF token (no id chosen before sign-in survives it);
    the session this browser held before, if any, is revoked."""
    previous = session.get("tid"), session.get("sid")
    token = start_session(principal)
    end_session(*previous)
    session.clear()
    session.update({"sid": token, "tid": str(principal.tenant_id), "csrf": secrets.token_urlsafe(32),
                    "tname": tenant_name})


def sign_out(session: dict) -> None:
    end_session(session.get("tid"), session.get("sid"))
    session.clear()


class DashboardAuth:
    """Pure ASGI middleware: sets request.state.principal from the session; refuses cookie-authenticated
    API writes that lack the session's CSRF token in the X-CSRF-Token header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"authorization" in headers:  # API key clients: exactly as before, no session involved
            await self.app(scope, receive, send)
            return
        session = scope.get("session", {})
        principal = None
        if "sid" in session or "uid" in session:
            principal = await run_in_threadpool(load_session, session.get("tid"), session.get("sid"))
            if principal is None:
                session.clear()  # ended, expired or unknown session: the cookie is cleared on this response
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
            if scope["path"].startswith("/api/") and scope["method"] not in SAFE_METHODS:
                sent = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
                if not csrf_matches(sent, session):
                    await problem(403, "missing or wrong X-CSRF-Token header for a cookie-authenticated request",
                                  "/problems/csrf")(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class LoginRequired(Exception):
    pass


class PageError(Exception):
    """An error shown as an HTML page (404 for another tenant's or a missing record, 403 for read-only)."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def not_found_page(kind: str) -> PageError:
    return PageError(404, f"This {kind} does not exist",
                     f"There is no {kind} at this address in your workspace. It may have been deleted, "
                     "or the link belongs to another workspace.")


def current_user(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.user_id is None:
        raise LoginRequired()
    return principal


def writer(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    if user.role == "read-only":
        raise PageError(403, "Read-only access", "Your role can view records but not change them. "
                        "Ask an admin of your workspace for the member role.")
    return user


async def verified_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the session's."""
    form = await request.form()
    if not csrf_matches(str(form.get(CSRF_FIELD, "")), request.session):
        raise PageError(403, "This form has expired",
                        "The page was open too long or in another session. Go back, reload it and submit again.")
    return form


UserDep = Annotated[Principal, Depends(current_user)]
WriterUser = Annotated[Principal, Depends(writer)]
FormDep = Annotated[FormData, Depends(verified_form)]


def install_page_errors(app: FastAPI) -> None:
    from dashboards.templating import render

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError):
        return render(request, "error.html", {"status": exc.status, "title": exc.title, "detail": exc.detail},
                      status_code=exc.status)

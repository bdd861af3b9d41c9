"""Who is signed in (signed session cookie), CSRF tokens, and the pages shown for auth and 404 errors.

The session (decoded by Starlette's SessionMiddleware, signed with itsdangerous and CRM_SECRET_KEY) holds
the user id and tenant id. Each request re-reads the user row under that tenant, so a deactivated user or
a changed role takes effect at once. The resulting Principal goes to `request.state.principal`, which is
where api/deps.py looks when no Bearer key is sent: the dashboard's own fetch() calls use the same API.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem
from crm.db.engine import tenant_session
from crm.db.models import User
from crm.tenancy import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def csrf_token(session: dict) -> str:
    """The session's CSRF token, created on first use (so API-only callers never get a cookie)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def sign_in(session: dict, principal: Principal) -> None:
    session.clear()
    session.update({"uid": str(principal.user_id), "tid": str(principal.tenant_id),
                    "csrf": secrets.token_urlsafe(32)})


def _load_principal(tenant_id: str, user_id: str) -> Principal | None:
    try:
        tid, uid = uuid.UUID(tenant_id), uuid.UUID(user_id)
    except (TypeError, ValueError):
        return None
    with tenant_session(tid) as s:
        user = s.execute(select(User.role, User.name, User.is_active).where(User.id == uid)).first()
    if user is None or not user.is_active:
        return None
    return Principal(tenant_id=tid, role=user.role, user_id=uid, name=user.name)


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
        if "uid" in session:
            principal = await run_in_threadpool(_load_principal, session.get("tid"), session.get("uid"))
            if principal is None:
                session.clear()  # user gone or deactivated: the cookie is cleared on this response
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
            if scope["path"].startswith("/api/") and scope["method"] not in SAFE_METHODS:
                sent = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
                if not secrets.compare_digest(sent, session.get("csrf", "")):
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
    sent = str(form.get(CSRF_FIELD, ""))
    if not secrets.compare_digest(sent, request.session.get("csrf", "")):
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

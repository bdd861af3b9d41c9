"""Mount the dashboard on the API app: page routes, static files, session cookie and CSRF middleware.

app/web.py calls it on the app api.main builds; the API itself never imports the dashboard.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "crm_session"


def _session_cookies(app: ASGIApp) -> SessionMiddleware:
    """Built when the app serves its first request, not at import: the secret is read (or generated) in the
    CRM_HOME the process runs with. The cookie only carries the server-side session's id (crm.sessions)."""
    from crm.sessions import SESSION_LIFETIME
    from crm.settings import get_settings

    settings = get_settings()
    return SessionMiddleware(app, secret_key=settings.session_secret, session_cookie=SESSION_COOKIE,
                             max_age=int(SESSION_LIFETIME.total_seconds()), same_site="lax",
                             https_only=settings.crm_env == "production")


def install_dashboard(app: FastAPI) -> None:
    """Mount pages, static files and the session + CSRF middleware on the API app.

    API clients that send a Bearer key are untouched: the session middleware only reads a cookie they
    never send, and the CSRF check applies only to cookie-authenticated API calls.
    """
    from dashboards.pages import router
    from dashboards.security import DashboardAuth, install_page_errors

    install_page_errors(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(DashboardAuth)
    # Added last so it runs first: DashboardAuth reads the session it decodes.
    app.add_middleware(_session_cookies)

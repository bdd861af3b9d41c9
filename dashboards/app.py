"""Mount the dashboard on the API app: page routes, static files, session cookie and CSRF middleware."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "crm_session"
SESSION_MAX_AGE = 12 * 60 * 60  # a working day; after that staff sign in again


def install_dashboard(app: FastAPI) -> None:
    """Mount pages, static files and the session + CSRF middleware on the API app.

    API clients that send a Bearer key are untouched: the session middleware only reads a cookie they
    never send, and the CSRF check applies only to cookie-authenticated API calls.
    """
    from crm.settings import get_settings
    from dashboards.pages import router
    from dashboards.security import DashboardAuth, install_page_errors

    install_page_errors(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(DashboardAuth)
    # Added last so it runs first: DashboardAuth reads the session it decodes.
    app.add_middleware(SessionMiddleware, secret_key=get_settings().crm_secret_key, session_cookie=SESSION_COOKIE,
                       max_age=SESSION_MAX_AGE, same_site="lax",
                       https_only=get_settings().crm_env == "production")

"""Sign in with a tenant user's email and password; sign out.

Password guessing is throttled in PostgreSQL per (email, client address) by crm.tenancy.authenticate_user,
shared by every worker. The address is the ASGI client as the server reports it: X-Forwarded-For counts
only when uvicorn is told to trust the proxy that sends it (--forwarded-allow-ips / FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from crm.tenancy import LoginThrottled, authenticate_user, tenant_name
from dashboards.pages.common import safe_next
from dashboards.security import FormDep, sign_in, sign_out
from dashboards.templating import render

router = APIRouter()


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    if getattr(request.state, "principal", None) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(request: Request, form: FormDep):
    email = str(form.get("email", "")).strip()
    target = safe_next(str(form.get("next", "/")))
    client = request.client.host if request.client else "unknown"
    try:
        principal = authenticate_user(email, str(form.get("password", "")), client=client) if email else None
    except LoginThrottled as exc:
        response = render(request, "login.html", {
            "next": target, "email": email,
            "error": f"Too many failed sign-ins for this email from your network. Try again in "
                     f"{_wait_text(exc.retry_after)}, or ask an admin of your workspace to reset the password."},
            status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if principal is None:
        return render(request, "login.html", {"next": target, "email": email,
                                              "error": "That email and password do not match an active user."},
                      status_code=401)
    sign_in(request.session, principal, tenant_name(principal.tenant_id))
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormDep):
    sign_out(request.session)
    return RedirectResponse("/login", status_code=303)

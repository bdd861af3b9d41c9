"""Sign in with a tenant user's email and password; sign out."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from crm.tenancy import authenticate_user, tenant_name
from dashboards.pages.common import safe_next
from dashboards.security import FormDep, sign_in
from dashboards.templating import render

router = APIRouter()

# Failed sign-ins per email, in this process: enough to stop password guessing through one server;
# several workers each keep their own count.
MAX_FAILURES, FAILURE_WINDOW = 10, 15 * 60
_failures: dict[str, deque] = defaultdict(deque)


def _locked(email: str) -> bool:
    attempts = _failures[email.lower()]
    while attempts and attempts[0] < time.monotonic() - FAILURE_WINDOW:
        attempts.popleft()
    return len(attempts) >= MAX_FAILURES


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    if getattr(request.state, "principal", None) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(request: Request, form: FormDep):
    email = str(form.get("email", "")).strip()
    target = safe_next(str(form.get("next", "/")))
    if email and _locked(email):
        return render(request, "login.html", {"next": target, "email": email,
                                              "error": "Too many failed sign-ins for this email. Wait 15 minutes "
                                                       "or ask an admin to reset the password."},
                      status_code=429)
    principal = authenticate_user(email, str(form.get("password", ""))) if email else None
    if principal is None:
        if email:
            _failures[email.lower()].append(time.monotonic())
        return render(request, "login.html", {"next": target, "email": email,
                                              "error": "That email and password do not match an active user."},
                      status_code=401)
    _failures.pop(email.lower(), None)
    sign_in(request.session, principal)
    request.session["tname"] = tenant_name(principal.tenant_id)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormDep):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)

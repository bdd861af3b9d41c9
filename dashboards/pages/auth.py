"""Sign in with a tenant user's email and password; sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from crm.tenancy import authenticate_user, tenant_name
from dashboards.pages.common import safe_next
from dashboards.security import FormDep, sign_in
from dashboards.templating import render

router = APIRouter()


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    if getattr(request.state, "principal", None) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(request: Request, form: FormDep):
    email = str(form.get("email", "")).strip()
    target = safe_next(str(form.get("next", "/")))
    principal = authenticate_user(email, str(form.get("password", ""))) if email else None
    if principal is None:
        return render(request, "login.html", {"next": target, "email": email,
                                              "error": "That email and password do not match an active user."},
                      status_code=401)
    sign_in(request.session, principal)
    request.session["tname"] = tenant_name(principal.tenant_id)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormDep):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)

"""Settings (admins only): the workspace's users and API keys, and the public invitation page.

The same crm.access functions as the API and the CLI. A new API key or invitation link is rendered into
the answer of the POST that made it, never into a URL or the session, so it is shown exactly once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from crm import access
from crm.security import ROLES
from crm.tenancy import Principal
from dashboards.pages.common import PageSession, parse_id
from dashboards.security import FormDep, PageError, current_user
from dashboards.templating import render

router = APIRouter()


def admin(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    if user.role != "admin":
        raise PageError(403, "Admins only", "Only an admin of your workspace can manage users and API keys.")
    return user


AdminUser = Annotated[Principal, Depends(admin)]


def _page(request: Request, s: Session, status_code: int = 200, **shown):
    ctx = {"users": access.list_users(s), "keys": access.list_api_keys(s),
           "invitations": access.list_invitations(s), "roles": ROLES}
    return render(request, "settings.html", {**ctx, **shown}, status_code=status_code)


def _apply(request: Request, s: Session, work, done, **shown):
    """Run `work(session)` and answer `done(result)`, or the page with the reason it was refused.

    The work runs in a savepoint: a refused change leaves nothing behind in the page's transaction, which
    goes on to show the page (and commits what a successful change wrote)."""
    try:
        with s.begin_nested():
            result = work(s)
    except access.NotFound as exc:
        raise PageError(404, "Not in this workspace", str(exc)) from None
    except (access.Conflict, access.Invalid) as exc:
        status = 409 if isinstance(exc, access.Conflict) else 422
        return _page(request, s, status_code=status, error=str(exc), **shown)
    return done(result)


def _back(_result) -> RedirectResponse:
    return RedirectResponse("/settings", status_code=303)


@router.get("/settings")
def settings_page(request: Request, user: AdminUser, s: PageSession):
    return _page(request, s)


@router.post("/settings/users/invite")
def invite(request: Request, user: AdminUser, form: FormDep, s: PageSession):
    email, name, role = (str(form.get(k, "")).strip() for k in ("email", "name", "role"))
    base = str(request.base_url).rstrip("/")
    return _apply(request, s,
                  lambda s: access.invite_user(s, user.tenant_id, email, role or "member", name[:200],
                                               invited_by=user.user_id),
                  lambda inv: _page(request, s, invitation=inv, invite_url=base + inv.invite_link),
                  invite_form={"email": email, "name": name, "role": role})


@router.post("/settings/users/{user_id}")
def update_user(request: Request, user_id: str, user: AdminUser, form: FormDep, s: PageSession):
    uid = parse_id(user_id, "user")
    role = str(form.get("role", "")) or None
    active = {"true": True, "false": False}.get(str(form.get("is_active", "")))
    return _apply(request, s, lambda s: access.update_user(s, uid, role=role, is_active=active), _back)


@router.post("/settings/api-keys")
def create_key(request: Request, user: AdminUser, form: FormDep, s: PageSession):
    name, role = str(form.get("name", "")).strip()[:200], str(form.get("role", "member"))
    return _apply(request, s, lambda s: access.create_api_key(s, user.tenant_id, role, name),
                  lambda issued: _page(request, s, issued=issued))


@router.post("/settings/api-keys/{key_id}/rotate")
def rotate_key(request: Request, key_id: str, user: AdminUser, form: FormDep, s: PageSession):
    kid = parse_id(key_id, "API key")
    return _apply(request, s, lambda s: access.rotate_api_key(s, kid), lambda issued: _page(request, s, issued=issued))


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, user: AdminUser, form: FormDep, s: PageSession):
    kid = parse_id(key_id, "API key")
    return _apply(request, s, lambda s: access.revoke_api_key(s, kid), _back)


# ---------------------------------------------------------------- the invitee's side (no sign-in)

def _invitation(token: str) -> access.PendingInvitation:
    invitation = access.find_invitation(token)
    if invitation is None:
        raise PageError(404, "Invitation not valid", str(access.InvitationInvalid()))
    return invitation


@router.get("/invite/{token}")
def invitation_page(request: Request, token: str):
    invitation = _invitation(token)
    page = render(request, "invite.html", {"invitation": invitation, "name": invitation.name, "token": token})
    page.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return page


@router.post("/invite/{token}")
def accept(request: Request, token: str, form: FormDep):
    invitation = _invitation(token)
    name = str(form.get("name", "")).strip()[:200]
    password = str(form.get("password", ""))
    try:
        access.check_password(password, str(form.get("password2", "")))
        access.accept_invitation(token, name, password)
    except access.InvitationInvalid as exc:
        raise PageError(404, "Invitation not valid", str(exc)) from None
    except (access.Invalid, access.Conflict) as exc:
        return render(request, "invite.html", {"invitation": invitation, "name": name, "token": token,
                                               "error": str(exc)}, status_code=422)
    return RedirectResponse("/login", status_code=303)

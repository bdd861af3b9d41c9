"""An agency manages its own access: API keys (issue, rotate, revoke) and users (invite, role, deactivate).

Every function takes a session already scoped to the tenant (`tenant_session`, RLS), so another agency's
key or user id is simply not found. The API, the CLI and the settings page all call these functions.
Secrets (API keys, invitation tokens) are returned once and stored as SHA-256 only.

Rules kept here, whoever calls:
- a workspace always keeps one active admin: the last one cannot be demoted or deactivated (Conflict);
- revoking the key the caller is using needs `confirm_self=True`, so a script cannot lock itself out
  by a wrong id; rotating it is allowed, since the new key comes back in the same answer;
- changes take effect at once: a revoked key stops in the worker that revoked it at once and in every other
  within a second (crm.db.one_trip leases), and the dashboard re-reads its user on every request.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.db import one_trip
from crm.db.engine import app_engine, tenant_session
from crm.db.models import ApiKey, User
from crm.security import ROLES, hash_password, hash_token, new_api_key
from crm.tenancy import Principal

INVITATION_TTL = timedelta(days=7)
MIN_PASSWORD_LENGTH = 10


class AccessError(Exception):
    """A request about access that cannot be carried out, worded for the admin who made it."""


class NotFound(AccessError):
    def __init__(self, kind: str, id_: object):
        super().__init__(f"{kind} {id_} not found")
        self.kind, self.id = kind, id_


class Conflict(AccessError):
    pass


class Invalid(AccessError):
    pass


class InvitationInvalid(AccessError):
    def __init__(self) -> None:
        super().__init__("This invitation link is not valid: it was already used, replaced, or it expired. "
                         "Ask an admin of the workspace for a new one.")


@dataclass(frozen=True)
class IssuedKey:
    row: ApiKey
    api_key: str  # the secret, shown this once


@dataclass(frozen=True)
class IssuedInvitation:
    id: uuid.UUID
    email: str
    name: str
    role: str
    expires_at: datetime
    created_at: datetime
    token: str  # shown this once, inside the link

    @property
    def invite_link(self) -> str:
        return f"/invite/{self.token}"


@dataclass(frozen=True)
class PendingInvitation:
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    name: str
    role: str
    expires_at: datetime


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}, not {role!r}")


# ---------------------------------------------------------------- API keys

def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at)))


def get_api_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:  # RLS: another agency's key looks exactly like a missing one
        raise NotFound("API key", key_id)
    return key


def create_api_key(session: Session, tenant_id: uuid.UUID, role: str = "member", name: str = "") -> IssuedKey:
    _check_role(role)
    secret, prefix, key_hash = new_api_key()
    row = ApiKey(tenant_id=tenant_id, name=name, prefix=prefix, key_hash=key_hash, role=role)
    session.add(row)
    session.flush()
    session.refresh(row)
    return IssuedKey(row, secret)


def revoke_api_key(session: Session, key_id: uuid.UUID, calling_key_id: uuid.UUID | None = None,
                   confirm_self: bool = False) -> ApiKey:
    """Revoke: the key stops at once in this process and within `one_trip.LEASE_SECONDS` in every other
    worker (each spends a lease of admitted requests for at most that long); revoking twice is harmless."""
    key = get_api_key(session, key_id)
    if key.id == calling_key_id and not confirm_self:
        raise Conflict("this is the API key you are calling with: revoking it ends your access through it at "
                       "once. Repeat with ?confirm=self if that is what you mean")
    if key.revoked_at is None:
        key.revoked_at = _now(session)
        session.flush()
        _forget_lease_on_commit(session, key.key_hash)
    return key


def _forget_lease_on_commit(session: Session, key_hash: str) -> None:
    # after the commit: forgotten earlier, a request in between could lease the still-valid key again
    event.listen(session, "after_commit", lambda _: one_trip.forget_key(key_hash), once=True)


def rotate_api_key(session: Session, key_id: uuid.UUID) -> IssuedKey:
    """A new secret with the same name and role; the old key is revoked in the same transaction."""
    old = get_api_key(session, key_id)
    if old.revoked_at is not None:
        raise Conflict(f"API key {key_id} is revoked: create a new key instead of rotating it")
    old.revoked_at = _now(session)
    session.flush()
    _forget_lease_on_commit(session, old.key_hash)
    return create_api_key(session, old.tenant_id, old.role, old.name)


# ---------------------------------------------------------------- users

def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.is_active.desc(), User.created_at, User.id)))


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def update_user(session: Session, user_id: uuid.UUID, role: str | None = None,
                is_active: bool | None = None) -> User:
    """Change a user's role and/or active flag, keeping at least one active admin in the workspace."""
    if role is not None:
        _check_role(role)
    _lock_workspace_access(session)
    user = get_user(session, user_id)
    stays_admin = (role or user.role) == "admin" and (user.is_active if is_active is None else is_active)
    if user.role == "admin" and user.is_active and not stays_admin and _active_admins(session) <= 1:
        raise Conflict(f"{user.email} is the last active admin of this workspace: make another user admin first")
    if role is not None:
        user.role = role
    if is_active is not None:
        user.is_active = is_active
    session.flush()
    session.refresh(user)
    return user


def _lock_workspace_access(session: Session) -> None:
    """Serialize access changes in one workspace, so two admins demoting each other at the same moment
    cannot both pass the last-admin check. NO KEY UPDATE does not block inserts that reference the tenant."""
    session.execute(text("select id from tenants where id = app_tenant_id() for no key update"))


def _active_admins(session: Session) -> int:
    return session.execute(select(func.count()).where(User.role == "admin", User.is_active)).scalar_one()


def _now(session: Session) -> datetime:
    return session.execute(text("select now()")).scalar_one()


# ---------------------------------------------------------------- invitations

def invite_user(session: Session, tenant_id: uuid.UUID, email: str, role: str = "member", name: str = "",
                invited_by: uuid.UUID | None = None) -> IssuedInvitation:
    """An invitation with a one-time token valid for 7 days; inviting the same email again replaces it.
    Nothing is emailed from this machine: the caller hands the link to the person."""
    _check_role(role)
    email = email.strip()
    if "@" not in email:
        raise Invalid(f"{email!r} is not an email address")
    taken = session.execute(select(User.id).where(func.lower(User.email) == email.lower())).first()
    if taken:
        raise Conflict(f"{email} is already a user of this workspace")
    session.execute(text("update invitations set revoked_at = now() where lower(email) = lower(:e) "
                         "and accepted_at is null and revoked_at is null"), {"e": email})
    token = secrets.token_urlsafe(32)
    row = session.execute(text(
        "insert into invitations (tenant_id, email, name, role, token_hash, invited_by, expires_at) "
        "values (:t, :e, :n, :r, :h, :b, now() + :ttl) returning id, expires_at, created_at"),
        {"t": tenant_id, "e": email, "n": name, "r": role, "h": hash_token(token), "b": invited_by,
         "ttl": INVITATION_TTL}).one()
    return IssuedInvitation(row.id, email, name, role, row.expires_at, row.created_at, token)


def list_invitations(session: Session) -> list:
    """Open invitations (not accepted, not replaced), expired ones included so the admin sees them."""
    return list(session.execute(text(
        "select id, email, name, role, expires_at, created_at, expires_at <= now() as is_expired "
        "from invitations where accepted_at is null and revoked_at is null order by created_at")))


def find_invitation(token: str) -> PendingInvitation | None:
    """Before anyone is signed in: the pending, unexpired invitation this token opens, if any."""
    with app_engine().begin() as conn:
        row = conn.execute(text("select * from find_invitation(:h)"), {"h": hash_token(token)}).first()
    if row is None:
        return None
    return PendingInvitation(row.invitation_id, row.tenant_id, row.email, row.name, row.role, row.expires_at)


def check_password(password: str, repeated: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise Invalid("the password is too long (at most 1024 characters)")
    if repeated is not None and repeated != password:
        raise Invalid("the two passwords differ")


def accept_invitation(token: str, name: str, password: str) -> Principal:
    """Turn an invitation into an active user with this name and password; the token works once."""
    check_password(password)
    invitation = find_invitation(token)
    if invitation is None:
        raise InvitationInvalid()
    try:
        with tenant_session(invitation.tenant_id) as s:
            user = User(tenant_id=invitation.tenant_id, email=invitation.email,
                        name=name.strip() or invitation.name or invitation.email.split("@")[0],
                        role=invitation.role, password_hash=hash_password(password))
            s.add(user)
            s.flush()
            # the guard makes the token single-use even when two people submit it at the same moment
            used = s.execute(text(
                "update invitations set accepted_at = now(), accepted_user_id = :u where id = :i "
                "and accepted_at is null and revoked_at is null and expires_at > now() returning id"),
                {"u": user.id, "i": invitation.id}).first()
            if used is None:
                raise InvitationInvalid()
    except IntegrityError as exc:  # users_email_key: the email has an account in some workspace already
        raise Conflict(f"{invitation.email} already has an account: sign in with it, or ask the admin to "
                       "invite another email address") from exc
    return Principal(tenant_id=invitation.tenant_id, role=user.role, user_id=user.id, name=user.name)

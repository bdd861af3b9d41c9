"""Tenants, their users and API keys: provisioning (operator, admin engine) and authentication."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm.db.engine import admin_session, app_engine, set_tenant, tenant_session
from crm.db.models import ApiKey, Tenant, User
from crm.ids import InvalidId, parse_uuid
from crm.security import ROLES, hash_api_key, hash_password, new_api_key, verify_password
from crm.services.actor import Actor, set_actor
from crm.services.changes import record

# contractual: an account churns when its contract ends (companies.churned_at is set);
# activity: a customer churns when it places no order in the next 90 days (the feature marts read this).
CHURN_MODES = ("contractual", "activity")


class TenancyError(ValueError):
    """A provisioning request that cannot be carried out, worded for the person who made it."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant every query is scoped to, and the role that limits writes."""

    tenant_id: uuid.UUID
    role: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    name: str = ""

    def actor(self) -> Actor:
        """Whom the audit log names for this caller's writes: the API key it authenticated with, else the
        signed-in user."""
        if self.api_key_id is not None:
            return Actor("api_key", self.api_key_id, self.name or "API key")
        return Actor("user", self.user_id, self.name)


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "tenant"
    return f"{slug}-{secrets.token_hex(3)}"


def create_tenant(name: str, admin_email: str, admin_password: str | None = None,
                  churn_mode: str = "contractual") -> dict:
    """Create a tenant with its first admin user and an admin API key; the key is returned once."""
    if not name.strip():
        raise TenancyError("tenant name must not be empty")
    if "@" not in admin_email:
        raise TenancyError(f"admin email {admin_email!r} is not an email address")
    _check_churn_mode(churn_mode)
    with admin_session() as s:
        taken = s.execute(text("select 1 from users where lower(email) = lower(:e)"), {"e": admin_email}).first()
        if taken:
            raise TenancyError(f"a user with email {admin_email!r} already exists")
        tenant = Tenant(name=name.strip(), slug=_slugify(name), churn_mode=churn_mode)
        s.add(tenant)
        s.flush()
        s.add(User(tenant_id=tenant.id, email=admin_email, name=admin_email.split("@")[0], role="admin",
                   password_hash=hash_password(admin_password) if admin_password else None))
        key, prefix, key_hash = new_api_key()
        s.add(ApiKey(tenant_id=tenant.id, name="initial admin key", prefix=prefix, key_hash=key_hash,
                     role="admin"))
    return {"tenant_id": str(tenant.id), "api_key": key, "admin_email": admin_email}


def _check_churn_mode(mode: str) -> None:
    if mode not in CHURN_MODES:
        raise TenancyError(f"churn mode must be one of {', '.join(CHURN_MODES)}, not {mode!r}")


def _settings(tenant: Tenant) -> dict:
    return {"tenant_id": str(tenant.id), "name": tenant.name, "churn_mode": tenant.churn_mode,
            "updated_at": tenant.updated_at}


def _own_tenant(session: Session) -> Tenant:
    """The session's tenant row: RLS on `tenants` shows a tenant session its own row only."""
    tenant = session.execute(select(Tenant)).scalar_one_or_none()
    if tenant is None:
        raise TenancyError("no tenant with this id")
    return tenant


def tenant_settings(session: Session) -> dict:
    """The agency's settings, read in its own tenant session."""
    return _settings(_own_tenant(session))


def update_tenant_settings(session: Session, churn_mode: str | None = None) -> dict:
    """Change the agency's settings in its own tenant session (the CLI and the admin API both come here).
    A new churn mode takes effect at the next pipeline run: the feature marts read `tenants.churn_mode`
    (extracted by its updated_at), so the account population and churn labels are rebuilt under it."""
    tenant = _own_tenant(session)
    if churn_mode is not None:
        _check_churn_mode(churn_mode)
        if churn_mode != tenant.churn_mode:
            record(session, "tenants", tenant.id, "update", {"churn_mode": [tenant.churn_mode, churn_mode]})
            tenant.churn_mode = churn_mode
            session.flush()
            session.refresh(tenant)  # updated_at is set by the database's trigger
    return _settings(tenant)


def set_churn_mode(tenant_id: uuid.UUID | str, churn_mode: str) -> dict:
    """Operator path (`crm tenant set-churn-mode`): the same service, inside that tenant's session."""
    try:
        tid = parse_uuid(tenant_id, "tenant_id")
    except InvalidId as exc:
        raise TenancyError(f"{tenant_id!r} is not a tenant id (a UUID)") from exc
    with tenant_session(tid) as s:
        set_actor(s, Actor("system", None, "operator (crm tenant set-churn-mode)"))
        if s.execute(select(Tenant.id)).first() is None:
            raise TenancyError(f"no tenant with id {tid}")
        return update_tenant_settings(s, churn_mode=churn_mode)


def all_tenant_ids() -> list[str]:
    """Every tenant, oldest first (operator view through the admin engine): platform jobs visit each one
    in turn, each inside its own RLS-scoped session."""
    with admin_session() as session:
        return [str(r[0]) for r in session.execute(text("select id from tenants order by created_at"))]


def create_api_key(tenant_id: uuid.UUID | str, role: str = "member", name: str = "") -> dict:
    if role not in ROLES:
        raise TenancyError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    try:
        tid = parse_uuid(tenant_id, "tenant_id")
    except InvalidId as exc:
        raise TenancyError(f"{tenant_id!r} is not a tenant id (a UUID)") from exc
    with admin_session() as s:
        if s.get(Tenant, tid) is None:
            raise TenancyError(f"no tenant with id {tid}")
        key, prefix, key_hash = new_api_key()
        s.add(ApiKey(tenant_id=tid, name=name, prefix=prefix, key_hash=key_hash, role=role))
    return {"api_key": key, "tenant_id": str(tid), "role": role}


def create_user(tenant_id: uuid.UUID | str, email: str, password: str, role: str = "member",
                name: str = "") -> uuid.UUID:
    if role not in ROLES:
        raise TenancyError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    with tenant_session(tenant_id) as s:
        user = User(tenant_id=parse_uuid(tenant_id, "tenant_id"), email=email, name=name or email.split("@")[0],
                    role=role, password_hash=hash_password(password))
        s.add(user)
        s.flush()
        return user.id


def authenticate_api_key(key: str) -> Principal | None:
    with app_engine().begin() as conn:
        row = conn.execute(text("select * from auth_api_key(:h)"), {"h": hash_api_key(key)}).first()
    if row is None:
        return None
    return Principal(tenant_id=row.tenant_id, role=row.role, api_key_id=row.api_key_id)


class LoginThrottled(Exception):
    """Too many failed sign-ins for this email from this address; nothing was checked."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


def authenticate_user(email: str, password: str, client: str = "local") -> Principal | None:
    """The one password check, for every way in. `client` is the caller's network address (web callers must
    pass it; every other caller shares the "local" allowance per email).

    The try is first reserved in PostgreSQL (`login_reserve`, migration 0006), committed before argon2
    runs, so parallel guesses from any number of workers cannot exceed the allowance; over it, this raises
    LoginThrottled without checking the password. Known and unknown emails cost one argon2 verify each.
    """
    email = email.strip()
    with app_engine().begin() as conn:
        allowed, retry_after = conn.execute(text("select allowed, retry_after from login_reserve(:e, :c)"),
                                            {"e": email, "c": client}).one()
        row = conn.execute(text("select * from auth_user(:e)"), {"e": email}).first() if allowed else None
    if not allowed:
        raise LoginThrottled(retry_after)
    if not verify_password(row.password_hash if row else None, password) or row is None:
        return None
    with app_engine().begin() as conn:
        conn.execute(text("select login_succeeded(:e, :c)"), {"e": email, "c": client})
    return Principal(tenant_id=row.tenant_id, role=row.role, user_id=row.user_id, name=row.name)


def tenant_name(tenant_id: uuid.UUID) -> str:
    with tenant_session(tenant_id) as s:
        return s.execute(select(Tenant.name)).scalar_one()


__all__ = ["CHURN_MODES", "LoginThrottled", "Principal", "TenancyError", "authenticate_api_key", "authenticate_user",
           "create_api_key", "create_tenant", "create_user", "set_churn_mode", "set_tenant", "tenant_name",
           "tenant_settings", "update_tenant_settings"]

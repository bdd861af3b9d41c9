"""Dashboard sessions kept in PostgreSQL (`user_sessions`, migration 0006), so they can be ended server-side.

The browser holds a random token (in the signed cookie, beside the tenant id needed to open the RLS
session); the table stores its SHA-256 only. Every request checks the session row and its user in one
query: a revoked, expired or idle session, or an inactive user, is no session. Password, role and
active-flag changes revoke a user's sessions through the `users_end_sessions` trigger, whoever writes.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.ids import InvalidId, parse_uuid
from crm.security import hash_token
from crm.tenancy import Principal

SESSION_LIFETIME = timedelta(hours=12)  # a working day; after that staff sign in again
SESSION_IDLE = timedelta(hours=2)  # a browser left alone that long is signed out
# last_seen_at is written at most this often, so ordinary page views do not each write a row
_TOUCH_EVERY = timedelta(minutes=1)

_LOAD = text("""
with live as (
  select s.id, s.last_seen_at, u.id as user_id, u.role, u.name
    from user_sessions s join users u on u.tenant_id = s.tenant_id and u.id = s.user_id
   where s.token_hash = :h and s.revoked_at is null and s.expires_at > now()
     and s.last_seen_at > now() - :idle and u.is_active
), touched as (
  update user_sessions set last_seen_at = now()
    from live where user_sessions.id = live.id and live.last_seen_at < now() - :touch
)
select user_id, role, name from live
""")


def _tenant_uuid(tenant_id: uuid.UUID | str | None) -> uuid.UUID | None:
    try:
        return parse_uuid(tenant_id, "tenant_id")
    except InvalidId:
        return None


def start_session(principal: Principal) -> str:
    """A new session for a user who just proved their password; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    with tenant_session(principal.tenant_id) as s:
        # the user's finished sessions are of no further use: keep the table to live ones
        s.execute(text("delete from user_sessions where user_id = :u and (revoked_at is not null or "
                       "expires_at <= now() or last_seen_at <= now() - :idle)"),
                  {"u": principal.user_id, "idle": SESSION_IDLE})
        s.execute(text("insert into user_sessions (tenant_id, user_id, token_hash, expires_at) "
                       "values (:t, :u, :h, now() + :life)"),
                  {"t": principal.tenant_id, "u": principal.user_id, "h": hash_token(token),
                   "life": SESSION_LIFETIME})
    return token


def load_session(tenant_id: uuid.UUID | str | None, token: str | None) -> Principal | None:
    """The signed-in user of a live session, or None."""
    tid = _tenant_uuid(tenant_id)
    if tid is None or not token:
        return None
    with tenant_session(tid) as s:
        row = s.execute(_LOAD, {"h": hash_token(token), "idle": SESSION_IDLE, "touch": _TOUCH_EVERY}).first()
    if row is None:
        return None
    return Principal(tenant_id=tid, role=row.role, user_id=row.user_id, name=row.name)


def end_session(tenant_id: uuid.UUID | str | None, token: str | None) -> None:
    """Revoke one session (sign-out; the old session when signing in again)."""
    tid = _tenant_uuid(tenant_id)
    if tid is None or not token:
        return
    with tenant_session(tid) as s:
        s.execute(text("update user_sessions set revoked_at = now() where token_hash = :h and revoked_at is null"),
                  {"h": hash_token(token)})

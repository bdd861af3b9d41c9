"""Server-side dashboard sessions (revocable) and login attempts reserved atomically (shared by every worker).

- `user_sessions`: one row per signed-in browser, tenant-owned under RLS. The cookie carries a random id;
  only its SHA-256 is stored. A session ends when it is revoked (logout, sign-in elsewhere in the same
  browser), expires, or idles out, and at once for every path that changes a user's password, role or
  active flag: the `users_end_sessions` trigger revokes them in the same transaction, whoever writes.
- `login_attempts`: failed sign-ins per (email, client address). Not tenant-owned (login happens before
  the tenant is known); the app role has no privilege on it and reaches it only through the SECURITY
  DEFINER functions `login_reserve` and `login_succeeded`, owned by the narrow `crm_auth` role.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

USER_SESSIONS = """
create table user_sessions (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  user_id uuid not null,
  token_hash text not null unique,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index user_sessions_user_idx on user_sessions (tenant_id, user_id) where revoked_at is null;

-- One owner of the rule "a changed password, role or active flag signs the user out everywhere": API,
-- CLI, dashboard and plain SQL all pass through here. Runs as the caller, so under RLS it reaches exactly
-- the tenant whose user row the caller was allowed to update.
create function end_user_sessions() returns trigger language plpgsql as $$
begin
  update user_sessions set revoked_at = now()
   where tenant_id = new.tenant_id and user_id = new.id and revoked_at is null;
  return null;
end $$;

create trigger users_end_sessions after update of password_hash, role, is_active on users
  for each row
  when (old.password_hash is distinct from new.password_hash or old.role is distinct from new.role
        or old.is_active is distinct from new.is_active)
  execute function end_user_sessions();
"""

# Throttling: 5 free failures per (email, client address); after that each try must wait 15 s, 30 s, 1 min,
# ... doubling up to 15 min after the previous one. A throttled try is refused without being counted, so
# waiting is always enough. Failures are forgotten after a quiet day; a success clears that pair only.
# Per address, not per email alone, so a flood from one address never locks the owner out of theirs.
LOGIN_ATTEMPTS = """
create table login_attempts (
  email text not null,
  client text not null,
  failures integer not null default 0,
  last_attempt_at timestamptz not null,
  primary key (email, client)
);
create index login_attempts_last_idx on login_attempts (last_attempt_at);

create function login_reserve(p_email text, p_client text, out allowed boolean, out retry_after integer)
language plpgsql volatile security definer set search_path = public as $$
declare
  v_failures integer;
  v_last timestamptz;
  v_now timestamptz;
  v_wait interval;
begin
  -- The upsert locks the pair's row: concurrent tries for it queue here, so each one sees the count
  -- left by the one before (the reservation is made before any password is checked).
  insert into login_attempts as a (email, client, failures, last_attempt_at)
  values (lower(p_email), p_client, 0, clock_timestamp())
  on conflict (email, client) do update set failures = a.failures
  returning a.failures, a.last_attempt_at into v_failures, v_last;
  v_now := clock_timestamp();
  if v_last < v_now - interval '1 day' then
    v_failures := 0;
  end if;
  if v_failures >= 5 then
    v_wait := least(interval '15 minutes', interval '15 seconds' * power(2, least(v_failures - 5, 6)));
    if v_last + v_wait > v_now then
      allowed := false;
      retry_after := greatest(1, ceil(extract(epoch from v_last + v_wait - v_now)))::integer;
      return;
    end if;
  end if;
  update login_attempts set failures = v_failures + 1, last_attempt_at = v_now
   where email = lower(p_email) and client = p_client;
  if random() < 0.01 then  -- now and then, forget pairs nobody has tried for a day
    delete from login_attempts where last_attempt_at < v_now - interval '1 day';
  end if;
  allowed := true;
  retry_after := 0;
end $$;

create function login_succeeded(p_email text, p_client text) returns void
language sql volatile security definer set search_path = public as
$$ delete from login_attempts where email = lower(p_email) and client = p_client $$;
"""


def upgrade() -> None:
    op.execute(USER_SESSIONS)
    enable_tenant_rls(op.execute, "user_sessions")
    op.execute(LOGIN_ATTEMPTS)
    op.execute("alter table login_attempts owner to crm_owner")
    op.execute("revoke all on login_attempts from public")
    op.execute("grant select, insert, update, delete on login_attempts to crm_auth")
    for fn in ("login_reserve(text, text)", "login_succeeded(text, text)"):
        op.execute(f"alter function {fn} owner to crm_auth")
        op.execute(f"revoke all on function {fn} from public")
        op.execute(f"grant execute on function {fn} to crm_app")


def downgrade() -> None:
    op.execute("drop function if exists login_reserve(text, text), login_succeeded(text, text)")
    op.execute("drop table if exists login_attempts")
    op.execute("drop trigger if exists users_end_sessions on users")
    op.execute("drop function if exists end_user_sessions()")
    op.execute("drop table if exists user_sessions")

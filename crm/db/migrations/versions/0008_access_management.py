"""Agencies manage their own access: user invitations, API key last use.

- `invitations`: tenant-owned (RLS); the one-time token is stored as its SHA-256 only.
- `auth_api_key` now also stamps `api_keys.last_used_at`, at most once a minute per key. It runs as
  `crm_access`, a role that may read api_keys and invitations and update that one column, nothing else.
- `find_invitation` (same owner) lets the public invitation page find its invitation before any tenant
  is known; it returns only a pending, unexpired one. Accepting it then happens under that tenant's RLS as crm_app.

Revision ID: 0008
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INVITATIONS = """
create table invitations (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  email text not null,
  name text not null default '',
  role text not null default 'member' check (role in ('admin', 'member', 'read-only')),
  token_hash text not null unique,
  invited_by uuid,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_user_id uuid,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (tenant_id, invited_by) references users (tenant_id, id) on delete set null (invited_by),
  foreign key (tenant_id, accepted_user_id) references users (tenant_id, id) on delete set null (accepted_user_id)
);
-- one open invitation per email and workspace: inviting again replaces the earlier one
create unique index invitations_open_email_key on invitations (tenant_id, lower(email))
  where accepted_at is null and revoked_at is null;
create trigger invitations_updated_at before update on invitations
  for each row execute function set_updated_at();
"""

ACCESS_ROLE = """
do $$ begin
  if not exists (select from pg_roles where rolname = 'crm_access') then
    create role crm_access nologin bypassrls;
  end if;
end $$;
"""

# Volatile now (it writes). The stamp is skipped while it is under a minute old, so a busy key costs one
# write a minute, and `skip locked` means a request never waits on another request's stamp.
AUTH_API_KEY = """
create or replace function auth_api_key(p_key_hash text)
returns table (api_key_id uuid, tenant_id uuid, role text)
language plpgsql volatile security definer set search_path = public as
$$
declare
  k record;
begin
  select a.id, a.tenant_id, a.role, a.last_used_at into k
    from api_keys a where a.key_hash = p_key_hash and a.revoked_at is null;
  if not found then
    return;
  end if;
  if k.last_used_at is null or k.last_used_at < now() - interval '60 seconds' then
    update api_keys set last_used_at = now()
     where id = (select a.id from api_keys a where a.id = k.id for update skip locked);
  end if;
  return query select k.id, k.tenant_id, k.role;
end
$$;
"""

AUTH_API_KEY_0001 = """
create or replace function auth_api_key(p_key_hash text)
returns table (api_key_id uuid, tenant_id uuid, role text)
language sql stable security definer set search_path = public as
$$ select k.id, k.tenant_id, k.role from api_keys k where k.key_hash = p_key_hash and k.revoked_at is null $$;
"""

FIND_INVITATION = """
create function find_invitation(p_token_hash text)
returns table (invitation_id uuid, tenant_id uuid, email text, name text, role text, expires_at timestamptz)
language sql stable security definer set search_path = public as
$$ select i.id, i.tenant_id, i.email, i.name, i.role, i.expires_at from invitations i
   where i.token_hash = p_token_hash and i.accepted_at is null and i.revoked_at is null
     and i.expires_at > now() $$;
"""


def upgrade() -> None:
    op.execute(INVITATIONS)
    enable_tenant_rls(op.execute, "invitations")
    op.execute(ACCESS_ROLE)
    op.execute("grant select (id, tenant_id, role, key_hash, revoked_at, last_used_at) on api_keys to crm_access")
    op.execute("grant update (last_used_at) on api_keys to crm_access")
    op.execute("grant select (id, tenant_id, email, name, role, token_hash, expires_at, accepted_at, revoked_at) "
               "on invitations to crm_access")
    op.execute(AUTH_API_KEY)
    op.execute(FIND_INVITATION)
    for fn in ("auth_api_key(text)", "find_invitation(text)"):
        op.execute(f"alter function {fn} owner to crm_access")
        op.execute(f"revoke all on function {fn} from public")
        op.execute(f"grant execute on function {fn} to crm_app")


def downgrade() -> None:
    op.execute("drop function if exists find_invitation(text)")
    op.execute(AUTH_API_KEY_0001)
    op.execute("alter function auth_api_key(text) owner to crm_auth")
    op.execute("revoke all on api_keys from crm_access")
    op.execute("drop table if exists invitations")

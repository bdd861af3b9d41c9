"""Request admission in PostgreSQL: API-key rate limits shared by every worker process, and a key-scoped tenant.

Revision ID: 0015

- `rate_buckets`: one token bucket per API key and per tenant (`scope` 'key' | 'tenant'). UNLOGGED: a bucket
  is seconds of state, so its updates write no WAL and a request's admission never waits on a disk flush; a
  crash empties the table, which only refills every bucket. It belongs to `crm_limits`, a role that owns
  nothing else, and is reached only through `rate_take` (running as that role); the app role has no
  privilege on it, and the key-auth role `crm_access` still writes nothing but `api_keys.last_used_at`.
- `api_admit(key_hash, key_rate, tenant_rate)`: authenticates the key (stamping `last_used_at` at most once
  a minute, as `auth_api_key` did), then takes one token from the key's bucket and, if granted, one from its
  tenant's. Refill is continuous at `rate` per second up to a burst of twice the rate. It raises SQLSTATE
  28000 for an unknown or revoked key and CR429 (DETAIL: JSON with retry_after, limit, scope) when a bucket
  is empty, so a statement queued after it in the same pipeline is skipped. It commits on its own (it runs
  outside the request's transaction): a bucket row is locked for microseconds, never for a request.
- `api_scope(key_hash)`: sets `app.tenant_id` for the current transaction to the key's tenant (raising 28000
  if the key was revoked meanwhile). The hot read path sends admission, `begin`, this, the read and `commit`
  in one pipeline: one network round trip per request, the tenant taken from the credentials in the database
  itself.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DDL = """
do $$ begin
  if not exists (select from pg_roles where rolname = 'crm_limits') then
    create role crm_limits nologin;
  end if;
end $$;

create unlogged table rate_buckets (
  scope text not null check (scope in ('key', 'tenant')),
  id uuid not null,
  tokens double precision not null,
  refilled_at timestamptz not null,
  primary key (scope, id)
);

-- One token from one bucket, or none. The row lock makes concurrent requests of every worker take turns on
-- it for the microseconds of this function, each seeing the level the one before left.
create function rate_take(p_scope text, p_id uuid, p_rate double precision,
                          out granted boolean, out tokens double precision)
language plpgsql volatile security definer set search_path = public as $$
declare
  v_now timestamptz := clock_timestamp();
  v_level double precision;
  v_at timestamptz;
begin
  insert into rate_buckets (scope, id, tokens, refilled_at) values (p_scope, p_id, 2 * p_rate, v_now)
  on conflict (scope, id) do nothing;
  select b.tokens, b.refilled_at into v_level, v_at from rate_buckets b
   where b.scope = p_scope and b.id = p_id for update;
  v_level := least(2 * p_rate, v_level + greatest(0, extract(epoch from v_now - v_at)) * p_rate);
  granted := v_level >= 1;
  tokens := case when granted then v_level - 1 else v_level end;
  update rate_buckets b set tokens = rate_take.tokens, refilled_at = greatest(v_at, v_now)
   where b.scope = p_scope and b.id = p_id;
end $$;

create function api_admit(p_key_hash text, p_key_rate double precision, p_tenant_rate double precision)
returns table (api_key_id uuid, tenant_id uuid, role text, rate_limit integer, rate_remaining integer)
language plpgsql volatile security definer set search_path = public as $$
declare
  k record;
  taken record;
  v_scope text;
  v_rate double precision;
begin
  select a.id, a.tenant_id, a.role, a.last_used_at into k
    from api_keys a where a.key_hash = p_key_hash and a.revoked_at is null;
  if not found then
    raise exception 'the API key is not valid (unknown or revoked)' using errcode = '28000';
  end if;
  if k.last_used_at is null or k.last_used_at < now() - interval '60 seconds' then
    update api_keys set last_used_at = now()
     where id = (select a.id from api_keys a where a.id = k.id for update skip locked);
  end if;
  foreach v_scope in array array['key', 'tenant'] loop
    v_rate := case v_scope when 'key' then p_key_rate else p_tenant_rate end;
    select * into taken from rate_take(v_scope, case v_scope when 'key' then k.id else k.tenant_id end, v_rate);
    if not taken.granted then
      raise exception 'rate limit of the %: % requests per second', case v_scope when 'key' then 'API key'
                                                                         else 'agency' end, v_rate
        using errcode = 'CR429',
              detail = json_build_object('retry_after', greatest(1, ceil((1 - taken.tokens) / v_rate)),
                                         'limit', v_rate, 'scope', v_scope)::text;
    end if;
    if v_scope = 'key' then
      rate_limit := floor(p_key_rate);
      rate_remaining := floor(taken.tokens);
    end if;
  end loop;
  api_key_id := k.id;
  tenant_id := k.tenant_id;
  role := k.role;
  return next;
end $$;

create function api_scope(p_key_hash text) returns void
language plpgsql volatile security definer set search_path = public as $$
declare
  v_tenant uuid;
begin
  select a.tenant_id into v_tenant from api_keys a where a.key_hash = p_key_hash and a.revoked_at is null;
  if not found then
    raise exception 'the API key is not valid (unknown or revoked)' using errcode = '28000';
  end if;
  perform set_config('app.tenant_id', v_tenant::text, true);
end $$;
"""

FUNCTIONS = ("rate_take(text, uuid, double precision)", "api_admit(text, double precision, double precision)",
             "api_scope(text)")


def upgrade() -> None:
    op.execute(DDL)
    op.execute("alter table rate_buckets owner to crm_limits")
    op.execute("revoke all on rate_buckets from public")
    take, *api = FUNCTIONS
    op.execute(f"alter function {take} owner to crm_limits")
    op.execute(f"revoke all on function {take} from public")
    op.execute(f"grant execute on function {take} to crm_access")
    for fn in api:
        op.execute(f"alter function {fn} owner to crm_access")
        op.execute(f"revoke all on function {fn} from public")
        op.execute(f"grant execute on function {fn} to crm_app")


def downgrade() -> None:
    for fn in FUNCTIONS[::-1]:
        op.execute(f"drop function if exists {fn}")
    op.execute("drop table if exists rate_buckets")

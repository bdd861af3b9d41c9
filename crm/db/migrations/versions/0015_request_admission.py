"""Request admission in PostgreSQL: API-key rate limits shared by every worker process (leased token buckets).

Revision ID: 0015

- `rate_buckets`: one token bucket per API key and per tenant (`scope` 'key' | 'tenant'). UNLOGGED: a bucket
  is seconds of state, so its updates write no WAL and a request's admission never waits on a disk flush; a
  crash empties the table, which only refills every bucket. It belongs to `crm_limits`, a role that owns
  nothing else, and is reached only through `rate_take` (running as that role); the app role has no
  privilege on it, and the key-auth role `crm_access` still writes nothing but `api_keys.last_used_at`.
- `api_lease(key_hash, want, key_rate, tenant_rate)`: authenticates the key (stamping `last_used_at` at most
  once a minute, as `auth_api_key` does), then leases up to `want` requests from the key's bucket and as many
  from its agency's (`rate_take`). Refill is continuous at `rate` per second up to a burst of twice the rate.
  It raises SQLSTATE 28000 for an unknown or revoked key and CR429 (DETAIL: JSON with retry_after, wait =
  the exact seconds until a token, limit, scope) when a bucket has less than one token. A worker spends a
  lease locally for at most a second (`crm.db.one_trip`), so most requests cost PostgreSQL no admission at
  all, while the buckets stay the one shared truth: no worker can spend a token another worker spent; it
  repeats a refusal itself until that instant. It runs in its own short transaction, never inside a
  request's: a bucket row is locked for microseconds.
- `<resource>_page_idx (tenant_id, created_at, id)` on every resource the API lists: a page of the keyset
  pagination is an index range scan of `limit + 1` rows instead of a sort of the agency's whole table.
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

-- Up to `p_want` tokens from one bucket (a worker leases a few at a time and spends them locally), or none.
-- The row lock makes concurrent leases of every worker take turns on it for the microseconds of this
-- function, each seeing the level the one before left.
create function rate_take(p_scope text, p_id uuid, p_rate double precision, p_want integer,
                          out taken integer, out tokens double precision)
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
  taken := least(p_want, floor(v_level))::integer;
  tokens := v_level - taken;
  update rate_buckets b set tokens = rate_take.tokens, refilled_at = greatest(v_at, v_now)
   where b.scope = p_scope and b.id = p_id;
end $$;

-- Authenticate a key and lease up to `p_want` requests from its bucket and its agency's.
create function api_lease(p_key_hash text, p_want integer, p_key_rate double precision,
                          p_tenant_rate double precision)
returns table (api_key_id uuid, tenant_id uuid, role text, granted integer, rate_limit integer,
               rate_remaining integer)
language plpgsql volatile security definer set search_path = public as $$
declare
  k record;
  from_key record;
  from_tenant record;
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
  select * into from_key from rate_take('key', k.id, p_key_rate, p_want);
  if from_key.taken < 1 then
    raise exception 'rate limit of the API key: % requests per second', p_key_rate
      using errcode = 'CR429', detail = json_build_object(
        'retry_after', greatest(1, ceil((1 - from_key.tokens) / p_key_rate)), 'limit', p_key_rate,
        'wait', (1 - from_key.tokens) / p_key_rate,
        'scope', 'key')::text;
  end if;
  select * into from_tenant from rate_take('tenant', k.tenant_id, p_tenant_rate, from_key.taken);
  if from_tenant.taken < 1 then   -- raising rolls the key's tokens back too
    raise exception 'rate limit of the agency: % requests per second', p_tenant_rate
      using errcode = 'CR429', detail = json_build_object(
        'retry_after', greatest(1, ceil((1 - from_tenant.tokens) / p_tenant_rate)), 'limit', p_tenant_rate,
        'wait', (1 - from_tenant.tokens) / p_tenant_rate,
        'scope', 'tenant')::text;
  end if;
  if from_tenant.taken < from_key.taken then   -- the agency had fewer: the key keeps the difference
    update rate_buckets b set tokens = b.tokens + (from_key.taken - from_tenant.taken)
     where b.scope = 'key' and b.id = k.id;
  end if;
  api_key_id := k.id;
  tenant_id := k.tenant_id;
  role := k.role;
  granted := from_tenant.taken;
  rate_limit := floor(p_key_rate);
  rate_remaining := floor(from_key.tokens) + (from_key.taken - from_tenant.taken);
  return next;
end $$;
"""

PAGED = ("companies", "contacts", "pipelines", "deals", "activities", "notes", "tasks", "campaigns")
FUNCTIONS = ("rate_take(text, uuid, double precision, integer)",
             "api_lease(text, integer, double precision, double precision)")


def upgrade() -> None:
    op.execute(DDL)
    for table in PAGED:
        op.execute(f"create index {table}_page_idx on {table} (tenant_id, created_at, id)")
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
    for table in PAGED:
        op.execute(f"drop index if exists {table}_page_idx")
    for fn in FUNCTIONS[::-1]:
        op.execute(f"drop function if exists {fn}")
    op.execute("drop table if exists rate_buckets")

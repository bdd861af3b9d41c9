"""Core CRM schema: tenants, users, API keys, CRM objects, tombstones, row-level security.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Tenant-owned tables, in creation order (parents first).
TENANT_TABLES = [
    "users", "api_keys", "companies", "contacts", "pipelines", "pipeline_stages", "deals",
    "deal_stage_history", "campaigns", "campaign_members", "activities", "notes", "tasks",
    "deleted_records", "scores", "score_history",
]
# Tables whose hard deletes leave a tombstone for incremental extraction.
TOMBSTONED = [
    "companies", "contacts", "pipelines", "pipeline_stages", "deals", "deal_stage_history",
    "campaigns", "campaign_members", "activities", "notes", "tasks", "users",
]

DDL = """

create function app_tenant_id() returns uuid language sql stable as
$$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

create function set_updated_at() returns trigger language plpgsql as
$$ begin new.updated_at := now(); return new; end $$;

create function record_tombstone() returns trigger language plpgsql as
$$ begin
  insert into deleted_records (tenant_id, table_name, record_id) values (old.tenant_id, tg_table_name, old.id);
  return old;
end $$;

create table tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text not null unique,
  churn_mode text not null default 'contractual' check (churn_mode in ('contractual', 'activity')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table users (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  email text not null,
  name text not null default '',
  password_hash text,
  role text not null default 'member' check (role in ('admin', 'member', 'read-only')),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id)
);
create unique index users_email_key on users (lower(email));

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  name text not null default '',
  prefix text not null,
  key_hash text not null unique,
  role text not null default 'member' check (role in ('admin', 'member', 'read-only')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table companies (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  name text not null,
  domain text,
  industry text,
  size text check (size in ('1-10', '11-50', '51-200', '201-1000', '1000+')),
  lifecycle text not null default 'prospect' check (lifecycle in ('prospect', 'customer', 'churned')),
  owner_id uuid,
  customer_since date,
  churned_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id),
  foreign key (tenant_id, owner_id) references users (tenant_id, id) on delete set null (owner_id)
);
create unique index companies_domain_key on companies (tenant_id, lower(domain)) where domain is not null;
create index companies_name_idx on companies (tenant_id, lower(name));

create table contacts (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  company_id uuid,
  first_name text not null default '',
  last_name text not null default '',
  email text not null,
  phone text,
  title text,
  lead_source text,
  lifecycle_stage text not null default 'lead'
    check (lifecycle_stage in ('subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer', 'other')),
  owner_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id),
  foreign key (tenant_id, company_id) references companies (tenant_id, id) on delete set null (company_id),
  foreign key (tenant_id, owner_id) references users (tenant_id, id) on delete set null (owner_id)
);
create unique index contacts_email_key on contacts (tenant_id, lower(email));
create index contacts_company_idx on contacts (tenant_id, company_id);

create table pipelines (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  name text not null,
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id)
);

create table pipeline_stages (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  pipeline_id uuid not null,
  name text not null,
  position integer not null,
  win_probability numeric(4, 3) not null default 0 check (win_probability between 0 and 1),
  is_won boolean not null default false,
  is_lost boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id),
  unique (pipeline_id, position) deferrable initially deferred,
  foreign key (tenant_id, pipeline_id) references pipelines (tenant_id, id) on delete cascade
);

create table deals (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  name text not null,
  company_id uuid,
  contact_id uuid,
  pipeline_id uuid not null,
  stage_id uuid not null,
  amount numeric(14, 2) not null default 0 check (amount >= 0),
  currency char(3) not null default 'USD',
  expected_close_date date,
  status text not null default 'open' check (status in ('open', 'won', 'lost')),
  closed_at timestamptz,
  lost_reason text,
  owner_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id),
  foreign key (tenant_id, company_id) references companies (tenant_id, id) on delete set null (company_id),
  foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete set null (contact_id),
  foreign key (tenant_id, pipeline_id) references pipelines (tenant_id, id),
  foreign key (tenant_id, stage_id) references pipeline_stages (tenant_id, id),
  foreign key (tenant_id, owner_id) references users (tenant_id, id) on delete set null (owner_id)
);
create index deals_company_idx on deals (tenant_id, company_id);
create index deals_contact_idx on deals (tenant_id, contact_id);

create table deal_stage_history (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  deal_id uuid not null,
  from_stage_id uuid,
  to_stage_id uuid not null,
  changed_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (tenant_id, deal_id) references deals (tenant_id, id) on delete cascade
);
create index deal_stage_history_deal_idx on deal_stage_history (tenant_id, deal_id, changed_at);

create table campaigns (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  name text not null,
  channel text not null check (channel in ('email', 'paid_search', 'paid_social', 'organic_social',
                                            'events', 'content', 'webinar', 'referral', 'other')),
  status text not null default 'draft' check (status in ('draft', 'active', 'paused', 'completed')),
  budget numeric(14, 2) not null default 0 check (budget >= 0),
  currency char(3) not null default 'USD',
  starts_on date,
  ends_on date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, id),
  check (ends_on is null or starts_on is null or ends_on >= starts_on)
);

create table campaign_members (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  campaign_id uuid not null,
  contact_id uuid not null,
  status text not null default 'member',
  added_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, campaign_id, contact_id),
  foreign key (tenant_id, campaign_id) references campaigns (tenant_id, id) on delete cascade,
  foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete cascade
);

create table activities (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  type text not null check (type in ('email_sent', 'email_opened', 'email_clicked', 'email_replied', 'call',
                                     'meeting', 'web_visit', 'form_submit', 'order', 'support_ticket')),
  occurred_at timestamptz not null,
  contact_id uuid,
  company_id uuid,
  deal_id uuid,
  campaign_id uuid,
  subject text,
  body text,
  properties jsonb not null default '{}'::jsonb,
  source text not null default 'api',
  external_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete set null (contact_id),
  foreign key (tenant_id, company_id) references companies (tenant_id, id) on delete set null (company_id),
  foreign key (tenant_id, deal_id) references deals (tenant_id, id) on delete set null (deal_id),
  foreign key (tenant_id, campaign_id) references campaigns (tenant_id, id) on delete set null (campaign_id)
);
create index activities_contact_idx on activities (tenant_id, contact_id, occurred_at);
create index activities_company_idx on activities (tenant_id, company_id, occurred_at);
create index activities_updated_idx on activities (updated_at);
create unique index activities_external_key on activities (tenant_id, source, external_id)
  where external_id is not null;

create table notes (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  body text not null check (length(body) > 0),
  contact_id uuid,
  company_id uuid,
  deal_id uuid,
  author_id uuid,
  occurred_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete set null (contact_id),
  foreign key (tenant_id, company_id) references companies (tenant_id, id) on delete set null (company_id),
  foreign key (tenant_id, deal_id) references deals (tenant_id, id) on delete set null (deal_id),
  foreign key (tenant_id, author_id) references users (tenant_id, id) on delete set null (author_id)
);
create index notes_contact_idx on notes (tenant_id, contact_id);
create index notes_company_idx on notes (tenant_id, company_id);

create table tasks (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id) on delete cascade,
  title text not null,
  description text,
  due_at timestamptz,
  is_done boolean not null default false,
  done_at timestamptz,
  assignee_id uuid,
  contact_id uuid,
  company_id uuid,
  deal_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (tenant_id, assignee_id) references users (tenant_id, id) on delete set null (assignee_id),
  foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete set null (contact_id),
  foreign key (tenant_id, company_id) references companies (tenant_id, id) on delete set null (company_id),
  foreign key (tenant_id, deal_id) references deals (tenant_id, id) on delete set null (deal_id)
);

create table deleted_records (
  id bigserial primary key,
  tenant_id uuid not null references tenants(id) on delete cascade,
  table_name text not null,
  record_id uuid not null,
  deleted_at timestamptz not null default clock_timestamp()
);
create index deleted_records_at_idx on deleted_records (deleted_at);

-- Published by the scoring pipeline: the current score per entity, and every score ever served.
create table scores (
  tenant_id uuid not null references tenants(id) on delete cascade,
  entity_type text not null check (entity_type in ('lead', 'account')),
  entity_id uuid not null,
  score smallint not null check (score between 0 and 100),
  probability double precision not null check (probability between 0 and 1),
  tier char(1) not null check (tier in ('A', 'B', 'C', 'D')),
  factors jsonb not null default '[]'::jsonb,
  model_name text not null,
  model_version text not null,
  scored_at timestamptz not null default now(),
  primary key (tenant_id, entity_type, entity_id)
);

create table score_history (
  id bigserial primary key,
  tenant_id uuid not null references tenants(id) on delete cascade,
  entity_type text not null check (entity_type in ('lead', 'account')),
  entity_id uuid not null,
  score smallint not null,
  probability double precision not null,
  tier char(1) not null,
  factors jsonb not null default '[]'::jsonb,
  model_name text not null,
  model_version text not null,
  scored_at timestamptz not null
);
create index score_history_entity_idx on score_history (tenant_id, entity_type, entity_id, scored_at);
"""

AUTH_FUNCTIONS = """
-- Authentication has to find a key or a user before any tenant is known; these two functions are the
-- only way past RLS, they return the one matching row, and they run as crm_auth (BYPASSRLS, SELECT only).
create function auth_api_key(p_key_hash text)
returns table (api_key_id uuid, tenant_id uuid, role text)
language sql stable security definer set search_path = public as
$$ select k.id, k.tenant_id, k.role from api_keys k where k.key_hash = p_key_hash and k.revoked_at is null $$;

create function auth_user(p_email text)
returns table (user_id uuid, tenant_id uuid, password_hash text, role text, name text)
language sql stable security definer set search_path = public as
$$ select u.id, u.tenant_id, u.password_hash, u.role, u.name from users u
   where lower(u.email) = lower(p_email) and u.is_active $$;
"""


def upgrade() -> None:
    op.execute(DDL)
    for table in TENANT_TABLES:
        op.execute(f"create trigger {table}_updated_at before update on {table} "
                   "for each row execute function set_updated_at()"
                   if table not in ("deleted_records", "scores", "score_history") else "select 1")
    for table in TOMBSTONED:
        op.execute(f"create trigger {table}_tombstone after delete on {table} "
                   "for each row execute function record_tombstone()")
    op.execute("create trigger tenants_updated_at before update on tenants "
               "for each row execute function set_updated_at()")
    op.execute(AUTH_FUNCTIONS)
    op.execute("alter function auth_api_key(text) owner to crm_auth")
    op.execute("alter function auth_user(text) owner to crm_auth")
    op.execute("revoke all on function auth_api_key(text), auth_user(text) from public")
    op.execute("grant execute on function auth_api_key(text), auth_user(text) to crm_app")
    op.execute("grant select on api_keys, users to crm_auth")
    for table in TENANT_TABLES:
        enable_tenant_rls(op.execute, table)
    # A tenant sees its own tenant row only.
    enable_tenant_rls(op.execute, "tenants", column="id", privileges="select, update")
    op.execute("grant usage, select on sequence deleted_records_id_seq, score_history_id_seq to crm_app")


def downgrade() -> None:
    for table in ["tenants", *TENANT_TABLES][::-1]:
        op.execute(f"drop table if exists {table} cascade")
    op.execute("drop function if exists auth_api_key(text), auth_user(text), app_tenant_id(), "
               "set_updated_at(), record_tombstone()")

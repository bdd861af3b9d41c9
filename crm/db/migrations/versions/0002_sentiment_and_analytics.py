"""Data platform tables: text sentiment, landing-file registry and quarantine, the analytics schema.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = """
-- One VADER score per note / activity text; text_hash lets the scorer skip unchanged texts.
create table text_sentiment (
  tenant_id uuid not null references tenants(id) on delete cascade,
  source_type text not null check (source_type in ('note', 'activity')),
  source_id uuid not null,
  contact_id uuid,
  company_id uuid,
  occurred_at timestamptz not null,
  compound double precision not null check (compound between -1 and 1),
  text_hash text not null,
  scored_at timestamptz not null default now(),
  primary key (tenant_id, source_type, source_id)
);
create index text_sentiment_scored_idx on text_sentiment (scored_at);
create index text_sentiment_contact_idx on text_sentiment (tenant_id, contact_id, occurred_at);

-- Every landing file loaded, by content hash: a file seen twice (even renamed) is loaded once.
create table landing_files (
  tenant_id uuid not null references tenants(id) on delete cascade,
  file_hash text not null,
  file_name text not null,
  rows_loaded integer not null default 0,
  rows_duplicate integer not null default 0,
  rows_quarantined integer not null default 0,
  loaded_at timestamptz not null default now(),
  primary key (tenant_id, file_hash)
);

-- Rows of landing files that failed validation, with the reason, for a person to fix and resend.
create table landing_quarantine (
  id bigserial primary key,
  tenant_id uuid not null references tenants(id) on delete cascade,
  file_hash text not null,
  file_name text not null,
  line_number integer not null,
  raw_row text not null,
  reason text not null,
  quarantined_at timestamptz not null default now()
);
create index landing_quarantine_file_idx on landing_quarantine (tenant_id, file_hash);

-- Deleting a tenant cascades to its rows, whose tombstone triggers then fired against a tenant already
-- gone (foreign-key violation: a tenant with data could not be deleted). A gone tenant needs no
-- tombstones: the extract drops every warehouse row of tenants that no longer exist.
create or replace function record_tombstone() returns trigger language plpgsql as
$$ begin
  if exists (select 1 from tenants where id = old.tenant_id) then
    insert into deleted_records (tenant_id, table_name, record_id) values (old.tenant_id, tg_table_name, old.id);
  end if;
  return old;
end $$;

-- Published marts (written by the pipeline's publish assets, read by the API under RLS).
create schema if not exists analytics;
grant usage on schema analytics to crm_app;
-- Tables here are owned by crm_owner; a tenant's cascading delete runs their foreign-key triggers as
-- that owner, which therefore needs the schema too.
grant usage on schema analytics to crm_owner;
"""


def upgrade() -> None:
    op.execute(DDL)
    for table in ("text_sentiment", "landing_files", "landing_quarantine"):
        enable_tenant_rls(op.execute, table)
    op.execute("grant usage, select on sequence landing_quarantine_id_seq to crm_app")


def downgrade() -> None:
    op.execute("""create or replace function record_tombstone() returns trigger language plpgsql as
$$ begin
  insert into deleted_records (tenant_id, table_name, record_id) values (old.tenant_id, tg_table_name, old.id);
  return old;
end $$""")
    op.execute("drop schema if exists analytics cascade")
    op.execute("drop table if exists landing_quarantine, landing_files, text_sentiment cascade")

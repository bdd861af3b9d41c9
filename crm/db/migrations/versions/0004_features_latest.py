"""The latest feature row per scored entity, published beside the scores for `?fresh=true` and what-if.

Revision ID: 0004

The API never opens the DuckDB warehouse; the batch scoring asset copies each entity's newest feature
snapshot here (as JSON, so a model with new features needs no migration), under forced RLS.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

DDL = """
create schema if not exists analytics;
create table analytics.features_latest (
  tenant_id uuid not null references tenants(id) on delete cascade,
  entity_type text not null check (entity_type in ('lead', 'account')),
  entity_id uuid not null,
  as_of_date date not null,
  features jsonb not null,
  published_at timestamptz not null default now(),
  primary key (tenant_id, entity_type, entity_id)
);
"""


def upgrade() -> None:
    op.execute(DDL)
    enable_tenant_rls(op.execute, "analytics.features_latest")


def downgrade() -> None:
    op.execute("drop table if exists analytics.features_latest")

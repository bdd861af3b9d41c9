"""Write safety: idempotency keys for POST, one default pipeline per tenant.

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

IDEMPOTENCY_KEYS = """
-- One row per Idempotency-Key a caller sent with a POST (api/idempotency.py). It is inserted in the same
-- transaction as the write it guards, so the primary key makes a concurrent retry wait for the first
-- request and then replay its stored response.
create table idempotency_keys (
  tenant_id uuid not null references tenants(id) on delete cascade,
  scope text not null,                 -- the caller: 'api_key:<id>' or 'user:<id>'
  key text not null,
  fingerprint text not null,           -- sha256 of method, path, query and canonical body
  status_code smallint,
  response_body text,                 -- the JSON exactly as first sent
  response_headers jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  primary key (tenant_id, scope, key)
);
create index idempotency_keys_created_idx on idempotency_keys (tenant_id, created_at);
"""

ONE_DEFAULT_PIPELINE = """
-- Tenants may already have several defaults (nothing prevented it): keep the oldest, the one deals used.
update pipelines p set is_default = false
 where p.is_default and exists (select 1 from pipelines q where q.tenant_id = p.tenant_id and q.is_default
                                  and (q.created_at, q.id) < (p.created_at, p.id));
create unique index pipelines_one_default_key on pipelines (tenant_id) where is_default;
"""


def upgrade() -> None:
    op.execute(IDEMPOTENCY_KEYS)
    enable_tenant_rls(op.execute, "idempotency_keys")
    op.execute(ONE_DEFAULT_PIPELINE)


def downgrade() -> None:
    op.execute("drop index if exists pipelines_one_default_key")
    op.execute("drop table if exists idempotency_keys")

"""Outbound webhooks: subscriptions and their delivery log.

Revision ID: 0017

- `webhook_subscriptions`: an agency's endpoints, the event types each wants (`*`, an exact type such as
  `deal.updated`, or a prefix such as `deal.*`) and the secret its deliveries are signed with (kept so the
  worker can sign; the API shows it only when it is created or rotated). `consecutive_failures` counts failed
  attempts in a row; past `CRM_WEBHOOK_DISABLE_AFTER` the worker sets `enabled = false` with
  `disabled_reason` and `disabled_at`, and any 2xx resets it.
- `webhook_deliveries`: one row per (subscription, idempotency key) — the unique key makes `enqueue`
  idempotent — holding the event's payload, its status (`pending`, `delivered`, `failed` = will be retried,
  `dead` = gave up) and the outcome of its last attempt. `next_attempt_at` is when it is due; a worker that
  claims a row moves it forward by a lease, so a worker killed during the HTTP call leaves the row due again
  once the lease runs out (at-least-once: receivers dedupe on `CRM-Delivery-Id`). Finished rows have no
  `next_attempt_at`.
- `webhook_deliveries_due_idx`: a partial index on the rows still to send, `(next_attempt_at, tenant_id)`:
  finding who has work due is a range scan of the due rows only, however long the log grows.
- `webhook_deliveries_log_idx (tenant_id, subscription_id, created_at, id)`: a page of a subscription's log.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DDL = """
create table webhook_subscriptions (
  tenant_id uuid not null references tenants(id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  url text not null,
  description text not null default '',
  event_types text[] not null default '{*}' check (cardinality(event_types) > 0),
  secret text not null,
  enabled boolean not null default true,
  consecutive_failures integer not null default 0,
  disabled_reason text,
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create trigger webhook_subscriptions_updated_at before update on webhook_subscriptions
  for each row execute function set_updated_at();

create table webhook_deliveries (
  tenant_id uuid not null references tenants(id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  subscription_id uuid not null,
  event_type text not null,
  idempotency_key text not null,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed', 'dead')),
  attempts integer not null default 0,
  next_attempt_at timestamptz default now(),
  last_status_code integer,
  last_error text,
  last_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint webhook_deliveries_subscription_id_fkey foreign key (tenant_id, subscription_id)
    references webhook_subscriptions (tenant_id, id) on delete cascade,
  constraint webhook_deliveries_idempotency_key_key unique (tenant_id, subscription_id, idempotency_key)
);
create trigger webhook_deliveries_updated_at before update on webhook_deliveries
  for each row execute function set_updated_at();
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at, tenant_id)
  where status in ('pending', 'failed');
create index webhook_deliveries_log_idx on webhook_deliveries (tenant_id, subscription_id, created_at, id);
"""


def upgrade() -> None:
    op.execute(DDL)
    enable_tenant_rls(op.execute, "webhook_subscriptions", privileges="select, insert, update, delete")
    # no delete: a delivery is part of the log; it goes only with its subscription (cascade) or tenant.
    # update: the worker records attempts, and `for update skip locked` (its claims) needs it
    enable_tenant_rls(op.execute, "webhook_deliveries", privileges="select, insert, update")


def downgrade() -> None:
    op.execute("drop table if exists webhook_deliveries, webhook_subscriptions")

"""Audit log (append-only) and record change events (outbox), written by crm.services.changes.record.

Revision ID: 0016

- `audit_log`: one row per recorded change: who (actor type, id, label), when, which record, the action and
  the fields before and after (`{field: [old, new]}`), the request id when there was one. The application
  role may only INSERT and SELECT: it cannot UPDATE, DELETE or TRUNCATE a row, so nothing the application
  does can rewrite history (a tenant's rows go only with the tenant, by the foreign key's cascade, which the
  operator runs). Paged newest first by `id` per tenant (the primary key), and per record by
  `audit_log_entity_idx (tenant_id, entity_type, entity_id, id)` (a record page's history panel).
- `record_events`: the outbox of the same changes (`deal.updated`, ...) and of AI signals
  (`lead_score.changed`, ...). Consumers (workflow triggers, webhooks) claim rows with
  DELETE ... RETURNING (`for update skip locked`) in the transaction that acts on them; `for update` needs
  the UPDATE privilege, so crm_app holds it too, though nothing updates an event.

Both are written by the writer's own transaction, one multi-row INSERT per transaction (crm.services.changes),
so RLS lets a writer add rows of its own tenant only.

NOTIFY: a STATEMENT-level trigger on `record_events` (transition table, as 0010's queues) sends
`NOTIFY crm_events, '<tenant_id>'` once per tenant per statement, delivered at commit (never for a
rolled-back write) with duplicates folded by PostgreSQL. A trigger rather than Python at flush: every path
that inserts events (the change hook, `crm.events.emit`, a later consumer or a hand-written SQL fix) wakes
the consumers without having to remember to, at no extra round trip.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ACTOR_TYPES = ("user", "api_key", "workflow_run", "import", "pipeline", "events", "system")
_ACTORS = ", ".join(f"'{a}'" for a in ACTOR_TYPES)

TABLES = f"""
create table audit_log (
  tenant_id uuid not null references tenants(id) on delete cascade,
  id bigserial,
  occurred_at timestamptz not null default now(),
  actor_type text not null check (actor_type in ({_ACTORS})),
  actor_id uuid,
  actor_label text not null default '',
  entity_type text not null,
  entity_id uuid not null,
  action text not null check (action in ('create', 'update', 'delete')),
  changes jsonb not null default '{{}}',
  request_id text,
  primary key (tenant_id, id)
);
create index audit_log_entity_idx on audit_log (tenant_id, entity_type, entity_id, id);

create table record_events (
  tenant_id uuid not null references tenants(id) on delete cascade,
  id bigserial,
  event_type text not null,
  entity_type text not null,
  entity_id uuid not null,
  changes jsonb not null default '{{}}',
  actor_type text not null check (actor_type in ({_ACTORS})),
  actor_id uuid,
  occurred_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create function record_events_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('crm_events', r.tenant_id::text) from (select distinct tenant_id from new_rows) r;
  return null;
end $$;
create trigger record_events_notify after insert on record_events referencing new table as new_rows
  for each statement execute function record_events_notify();
"""


def upgrade() -> None:
    op.execute(TABLES)
    enable_tenant_rls(op.execute, "audit_log", privileges="select, insert")
    enable_tenant_rls(op.execute, "record_events", privileges="select, insert, update, delete")
    for table in ("audit_log", "record_events"):
        op.execute(f"grant usage, select on sequence {table}_id_seq to crm_app")


def downgrade() -> None:
    op.execute("drop table if exists record_events, audit_log")
    op.execute("drop function if exists record_events_notify()")

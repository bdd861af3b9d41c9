"""Workflows per agency: definitions, runs and step runs; the run checkpointer's own schema.

Revision ID: 0018

- `workflows`: an agency's workflows; `definition` is the JSON validated by `crm.workflows.definition`
  (trigger, conditions, steps), `template` names the template it was created from, if any.
- `workflow_runs`: one row per (workflow, trigger key) — the unique key makes starting a run for the same event,
  schedule slot or inactivity spell idempotent (`crm.workflows.runs.start_run`). `definition` is the workflow's
  definition as it was when the run was queued: a run waiting for days keeps the graph it started with even if
  the workflow is edited meanwhile (an addition to the shared contract). `status` moves queued → running →
  (waiting ⇄ running) → succeeded | failed; `resume_at` is when a waiting run is due again.
- `workflow_step_runs`: one row per step a run reached, keyed (tenant, run, step): the row of a side-effect step
  is written in the transaction of its effect, so a resumed run finds it and never repeats the effect.
- `workflow_runs_due_idx`: partial index on unfinished runs by the instant they are due
  (`coalesce(resume_at, queued_at)`): the runner's "what is due now" is a range scan of unfinished runs only.
- `workflow_runs_history_idx (tenant_id, workflow_id, queued_at, id)`: a page of one workflow's run history.

The LangGraph PostgreSQL checkpointer's tables carry no tenant_id, so RLS cannot guard them. They are created
here in their own schema `workflow_state` (from the installed library's migration list, see
`crm.workflows.checkpoints`), owned by crm_owner and granted only to `crm_workflow`, a role that cannot log in,
owns nothing and has no right on any tenant table. crm_app (the API's and dashboard's role) gets no USAGE on the
schema, so no API code path can read a run's graph state. The workflow worker connects its checkpointer with the
operator's URL and `role=crm_workflow`, so the checkpointer itself can reach its schema and nothing else. A
dedicated login role with its own password would need a second secret in every deployment for no gain: the
worker already holds the operator URL to find due runs across tenants (as the live refresher does).
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls
from crm.workflows.checkpoints import ROLE, SCHEMA, apply_checkpoint_migrations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DDL = """
create table workflows (
  tenant_id uuid not null references tenants(id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null,
  description text not null default '',
  enabled boolean not null default true,
  definition jsonb not null,
  template text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create trigger workflows_updated_at before update on workflows for each row execute function set_updated_at();

create table workflow_runs (
  tenant_id uuid not null references tenants(id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  workflow_id uuid not null,
  trigger_key text not null,
  trigger jsonb not null default '{}',
  entity_type text,
  entity_id uuid,
  definition jsonb not null,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'waiting', 'succeeded', 'failed')),
  resume_at timestamptz,
  current_step text,
  error text,
  queued_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  primary key (tenant_id, id),
  constraint workflow_runs_workflow_id_fkey foreign key (tenant_id, workflow_id)
    references workflows (tenant_id, id) on delete cascade,
  constraint workflow_runs_trigger_key_key unique (tenant_id, workflow_id, trigger_key)
);
create index workflow_runs_due_idx on workflow_runs ((coalesce(resume_at, queued_at)), tenant_id)
  where status in ('queued', 'running', 'waiting');
create index workflow_runs_history_idx on workflow_runs (tenant_id, workflow_id, queued_at, id);

create table workflow_step_runs (
  tenant_id uuid not null references tenants(id) on delete cascade,
  run_id uuid not null,
  step_id text not null,
  status text not null check (status in ('running', 'waiting', 'succeeded', 'failed')),
  input jsonb not null default '{}',
  output jsonb,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  error text,
  primary key (tenant_id, run_id, step_id),
  constraint workflow_step_runs_run_id_fkey foreign key (tenant_id, run_id)
    references workflow_runs (tenant_id, id) on delete cascade
);
"""


def upgrade() -> None:
    op.execute(DDL)
    for table in ("workflows", "workflow_runs", "workflow_step_runs"):
        enable_tenant_rls(op.execute, table)
    apply_checkpoint_migrations(op.execute)


def downgrade() -> None:
    op.execute(f"drop schema if exists {SCHEMA} cascade")
    op.execute("drop table if exists workflow_step_runs, workflow_runs, workflows")
    op.execute(f"drop role if exists {ROLE}")

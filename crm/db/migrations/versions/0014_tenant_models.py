"""Which model scores each agency, and what kind of model a score came from.

Revision ID: 0014

The pooled LightGBM champions are trained on every agency's month-end marts. An agency whose own history cannot
show that the champion works on its data (a new agency, a customers-only agency, an agency whose own labelled
rows the champion ranks worse than a classic model does) is scored by a transparent fallback fitted on its own
data instead: BG/NBD for purchase (activity-mode) churn, a calibrated engagement model for leads.
- `tenant_models`: per agency and entity type, the chosen kind ('learned', 'bg_nbd', 'engagement'), the
  fallback's fitted parameters (JSON), the per-agency comparison it was chosen on, and why. Written by the
  pipeline's `scoring_choice` asset; read by every scorer (batch, live refresher, `?fresh=true`).
- `scores.model_kind`, `score_history.model_kind`: what produced each score, shown as `model.kind`.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KINDS = "('learned', 'bg_nbd', 'engagement')"


def upgrade() -> None:
    op.execute(f"""
create table tenant_models (
  tenant_id uuid not null references tenants(id) on delete cascade,
  entity_type text not null check (entity_type in ('lead', 'account')),
  kind text not null check (kind in {KINDS}),
  params jsonb not null default '{{}}'::jsonb,
  comparison jsonb not null default '{{}}'::jsonb,
  reason text not null,
  fitted_at timestamptz not null default now(),
  primary key (tenant_id, entity_type)
)""")
    enable_tenant_rls(op.execute, "tenant_models")
    for table in ("scores", "score_history"):
        op.execute(f"alter table {table} add column model_kind text not null default 'learned' "
                   f"check (model_kind in {KINDS})")


def downgrade() -> None:
    for table in ("scores", "score_history"):
        op.execute(f"alter table {table} drop column if exists model_kind")
    op.execute("drop table if exists tenant_models")

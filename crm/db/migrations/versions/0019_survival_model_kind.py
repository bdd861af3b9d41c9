"""Contractual churn's fallback: a tenure life table fitted on the agency's own customers (kind 'survival').

Revision ID: 0019

Migration 0014 allowed the kinds 'learned', 'bg_nbd' and 'engagement' in `tenant_models.kind` and in the
`model_kind` of `scores` and `score_history`; a contractual agency without a learned model it can be shown to
suit is now scored by `crm.tenure_survival` and its scores say so.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KINDS = "('learned', 'bg_nbd', 'survival', 'engagement')"
OLD_KINDS = "('learned', 'bg_nbd', 'engagement')"
COLUMNS = (("tenant_models", "kind"), ("scores", "model_kind"), ("score_history", "model_kind"))


def _check(kinds: str) -> None:
    for table, column in COLUMNS:
        op.execute(f"alter table {table} drop constraint if exists {table}_{column}_check")
        op.execute(f"alter table {table} add constraint {table}_{column}_check check ({column} in {kinds})")


def upgrade() -> None:
    _check(KINDS)


def downgrade() -> None:
    op.execute("delete from tenant_models where kind = 'survival'")
    for table in ("scores", "score_history"):
        op.execute(f"update {table} set model_kind = 'learned' where model_kind = 'survival'")
    _check(OLD_KINDS)

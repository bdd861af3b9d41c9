"""Tasks by assignee: the workflow round robin's lookup of each user's latest task.

Revision ID: 0020

A `create_task` step assigned by round robin (`serving/workflows/steps/tasks.py`) orders the agency's active
users by their newest task (`max(created_at)` per assignee). Without an index that reads every task of the
agency for each step, so a workflow's steps grew slower with every task it created; with it, one index probe
per user.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create index if not exists tasks_assignee_idx on tasks (tenant_id, assignee_id, created_at)")


def downgrade() -> None:
    op.execute("drop index if exists tasks_assignee_idx")

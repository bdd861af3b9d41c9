"""Text sentiment by company: the live account features' narrowing reads an account's scores by index.

Revision ID: 0021

A live compile of the feature marts reads only the text sentiment of the touched entities: scores naming a
touched contact or company, or a contact of a touched company (dbt macro `live_rows_of_entities`). Scores had an
index by contact only, so a company's re-score read every score of the agency; with this one, both arms of the
narrowing are index scans.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create index if not exists text_sentiment_company_idx "
               "on text_sentiment (tenant_id, company_id, occurred_at)")


def downgrade() -> None:
    op.execute("drop index if exists text_sentiment_company_idx")

"""Live refresh queue: the transaction that queued each row, and the snapshot each batch scoring pass saw.

Revision ID: 0012

A batch scoring pass (`serving.batch.score_now`, the pipeline's lead_scores / account_scores assets) computes
every entity of a tenant as of now. It answers every queued change whose transaction had committed when the pass
looked, and nothing else: a change committed a moment later is not in what it read. So:
- `live_refresh_queue.xid` is the id of the transaction that queued the row (`pg_current_xact_id()`);
- `live_batch_marks` keeps, per tenant and scored type (lead, account), the snapshot (`pg_current_snapshot()`)
  taken by the newest pass before it read anything.
A queued row is answered once its xid is visible in both the lead and the account mark: a contact's change
moves its lead features and its company's account features, a company's moves its account and its contacts'
leads. The pass that completes the pair removes those rows (`crm.live_queue.settle_batch`), so a first run's
bulk load is not refreshed a second time, entity by entity, after the pipeline has scored everything.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table live_refresh_queue add column xid xid8 not null default pg_current_xact_id()")
    op.execute("""
create table live_batch_marks (
  tenant_id uuid not null references tenants(id) on delete cascade,
  entity_type text not null check (entity_type in ('lead', 'account')),
  snapshot pg_snapshot not null,
  scored_at timestamptz not null,
  primary key (tenant_id, entity_type)
)""")
    enable_tenant_rls(op.execute, "live_batch_marks", privileges="select, insert, update")


def downgrade() -> None:
    op.execute("drop table if exists live_batch_marks")
    op.execute("alter table live_refresh_queue drop column if exists xid")

"""Timestamps within the product's range (crm.timestamps), enforced by CHECK constraints; rows already
outside it are moved to a quarantine table.

Revision ID: 0005

An older install may hold a value the API used to accept (the finding: an activity at 1 BC). Such a row
must neither be lost nor block the upgrade, so before the constraints are added `quarantine_out_of_range()`
copies it, whole, into `quarantined_records` (readable by its tenant under RLS) and then:
- deletes it when the column is required (activities and notes: an event at 1 BC has no place to stay;
  the delete leaves the usual tombstone, so the warehouse drops it too);
- clears the one value when the column is optional (a deal, company, task or campaign is kept with its
  history and references; only the bad date goes, and the quarantine keeps what it was).
The function stays in the schema for an operator (and the tests) to call again.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls
from crm.timestamps import RANGE_TEXT, in_range_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Every timestamp or date a user or an integration sends: (table, column, is a date, may be null).
# The rest (created_at, closed_at, done_at, churned_at, ...) is set by the database or the services.
BOUNDED = [
    ("activities", "occurred_at", False, False),
    ("notes", "occurred_at", False, False),
    ("tasks", "due_at", False, True),
    ("deals", "expected_close_date", True, True),
    ("companies", "customer_since", True, True),
    ("campaigns", "starts_on", True, True),
    ("campaigns", "ends_on", True, True),
]
TABLES = sorted({table for table, *_ in BOUNDED})

QUARANTINE_TABLE = """
create table quarantined_records (
  id bigserial primary key,
  tenant_id uuid not null references tenants(id) on delete cascade,
  table_name text not null,
  record_id uuid not null,
  action text not null check (action in ('moved', 'cleared')),
  record jsonb not null,
  reason text not null,
  quarantined_at timestamptz not null default now()
);
create index quarantined_records_tenant_idx on quarantined_records (tenant_id, table_name, quarantined_at);
"""


def _move_step(table: str, column: str, is_date: bool, nullable: bool) -> str:
    """One table/column of the function body: quarantine the rows outside, then delete or clear them."""
    outside = f"not {in_range_sql(column, is_date)}"
    reason = f"'{column} ' || {{row}}.{column}::text || ' is outside the supported range: values must be {RANGE_TEXT}'"
    if nullable:
        return f"""
  insert into quarantined_records (tenant_id, table_name, record_id, action, record, reason)
  select tenant_id, '{table}', id, 'cleared', to_jsonb(x), {reason.format(row="x")} from {table} x where {outside};
  get diagnostics n = row_count;
  total := total + n;
  update {table} set {column} = null where {outside};"""
    return f"""
  with moved as (delete from {table} where {outside} returning *)
  insert into quarantined_records (tenant_id, table_name, record_id, action, record, reason)
  select tenant_id, '{table}', id, 'moved', to_jsonb(moved), {reason.format(row="moved")} from moved;
  get diagnostics n = row_count;
  total := total + n;"""


def move_function_sql() -> str:
    steps = "".join(_move_step(*b) for b in BOUNDED)
    return f"""
create or replace function quarantine_out_of_range() returns integer language plpgsql as $$
declare
  n integer;
  total integer := 0;
begin{steps}
  return total;
end $$;
revoke all on function quarantine_out_of_range() from public;
"""


def upgrade() -> None:
    op.execute(QUARANTINE_TABLE)
    enable_tenant_rls(op.execute, "quarantined_records", privileges="select")
    op.execute(move_function_sql())
    # No write may slip a bad value in between the move and the constraints.
    op.execute(f"lock table {', '.join(TABLES)} in share row exclusive mode")
    op.execute("select quarantine_out_of_range()")
    for table, column, is_date, _ in BOUNDED:
        # named <table>_<column>_check: api.errors names the field from the constraint
        op.execute(f"alter table {table} add constraint {table}_{column}_check "
                   f"check {in_range_sql(column, is_date)}")


def downgrade() -> None:
    for table, column, *_ in BOUNDED:
        op.execute(f"alter table {table} drop constraint if exists {table}_{column}_check")
    op.execute("drop function if exists quarantine_out_of_range()")
    op.execute("drop table if exists quarantined_records")

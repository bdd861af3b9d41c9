"""Live refresh outbox: every write that touches a lead or an account queues it, in the writer's transaction.

Revision ID: 0010

Two tenant-owned queues, filled by triggers so that no write path can skip them (services, POST /events,
landing files, CSV import, the demo's bulk INSERT ... SELECT, a cascading delete, a hand-written SQL fix):
- `live_refresh_queue`: (entity_type, entity_id) of each contact / company whose features may have moved;
  the refresher's score lane claims rows with DELETE ... RETURNING in the transaction that writes the scores;
- `live_index_queue`: each note / activity written, for the index lane (passages into LanceDB), which deletes
  its rows only after the LanceDB write, so a crash repeats work (idempotent by text hash) and loses none.

The triggers are STATEMENT-level with transition tables: a bulk load of 500k activities runs one
INSERT ... SELECT DISTINCT per statement, not 500k row triggers, and queues each touched entity once per
statement. PostgreSQL allows transition tables on single-event triggers only, hence three triggers a table.
They run as the writer, so RLS lets a writer queue rows of its own tenant only. Rows of a tenant being
deleted are skipped (its cascading deletes fire these triggers after the tenant row is gone; see
record_tombstone in 0002). Each statement also sends `NOTIFY crm_live, '<tenant_id>'` (delivered at commit,
duplicates folded by PostgreSQL) so the refresher wakes at once instead of at its next poll.
Scores, score_history, text_sentiment and analytics.* have no trigger: the refresher's own writes never queue.
"""

from __future__ import annotations

from alembic import op

from crm.db.rls import enable_tenant_rls

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

QUEUES = """
create table live_refresh_queue (
  id bigserial,
  tenant_id uuid not null references tenants(id) on delete cascade,
  entity_type text not null check (entity_type in ('contact', 'company')),
  entity_id uuid not null,
  source_table text not null,
  queued_at timestamptz not null default clock_timestamp(),
  primary key (tenant_id, id)
);
create table live_index_queue (
  id bigserial,
  tenant_id uuid not null references tenants(id) on delete cascade,
  source_type text not null check (source_type in ('note', 'activity')),
  source_id uuid not null,
  queued_at timestamptz not null default clock_timestamp(),
  primary key (tenant_id, id)
);
"""

# (tenant_id, entity_type, entity_id) touched by the rows of `{rows}` (a transition table) of each table.
_CONTACT_AND_COMPANY = """
select tenant_id, 'contact' as entity_type, contact_id as entity_id from {rows} where contact_id is not null
union select tenant_id, 'company', company_id from {rows} where company_id is not null"""
TOUCHED = {
    "contacts": """
select tenant_id, 'contact' as entity_type, id as entity_id from {rows}
union select tenant_id, 'company', company_id from {rows} where company_id is not null""",
    "companies": "select tenant_id, 'company' as entity_type, id as entity_id from {rows}",
    "deals": _CONTACT_AND_COMPANY,
    # a stage change moves the deal's lead and account; a history row deleted with its deal finds no deal,
    # and the deal's own delete queued both already
    "deal_stage_history": """
select d.tenant_id, 'contact' as entity_type, d.contact_id as entity_id
  from {rows} h join deals d on d.tenant_id = h.tenant_id and d.id = h.deal_id where d.contact_id is not null
union select d.tenant_id, 'company', d.company_id
  from {rows} h join deals d on d.tenant_id = h.tenant_id and d.id = h.deal_id where d.company_id is not null""",
    "campaign_members": "select tenant_id, 'contact' as entity_type, contact_id as entity_id from {rows}",
    "activities": _CONTACT_AND_COMPANY,
    "notes": _CONTACT_AND_COMPANY,
}
# Tables whose rows are passages of the insight index: every written row is queued, the lane decides.
INDEXED = {"activities": "activity", "notes": "note"}
EVENTS = {"insert": "new_rows", "delete": "old_rows", "update": "new_rows"}


def _rows_of(event: str) -> list[str]:
    return ["new_rows", "old_rows"] if event == "update" else [EVENTS[event]]


def _function_sql(table: str, event: str) -> str:
    touched = "\nunion\n".join(TOUCHED[table].format(rows=rows) for rows in _rows_of(event))
    body = f"""
  insert into live_refresh_queue (tenant_id, entity_type, entity_id, source_table)
  select t.tenant_id, t.entity_type, t.entity_id, tg_table_name
    from ({touched}) t
   where exists (select 1 from tenants where id = t.tenant_id);"""
    if table in INDEXED:
        ids = "\n    union ".join(f"select tenant_id, id from {rows}" for rows in _rows_of(event))
        body += f"""
  insert into live_index_queue (tenant_id, source_type, source_id)
  select r.tenant_id, '{INDEXED[table]}', r.id
    from ({ids}) r
   where exists (select 1 from tenants where id = r.tenant_id);"""
    body += f"""
  perform pg_notify('crm_live', r.tenant_id::text)
     from (select distinct tenant_id from {EVENTS[event]}) r
    where exists (select 1 from tenants where id = r.tenant_id);
  return null;"""
    return (f"create function live_enqueue_{table}_{event}() returns trigger language plpgsql as $$\n"
            f"begin{body}\nend $$;")


def _trigger_sql(table: str, event: str) -> str:
    referencing = {"insert": "new table as new_rows", "delete": "old table as old_rows",
                   "update": "old table as old_rows new table as new_rows"}[event]
    return (f"create trigger {table}_live_{event} after {event} on {table} referencing {referencing} "
            f"for each statement execute function live_enqueue_{table}_{event}()")


def upgrade() -> None:
    op.execute(QUEUES)
    for queue in ("live_refresh_queue", "live_index_queue"):
        # update: `select ... for update skip locked` (the claims) needs it, though nothing updates a queue row
        enable_tenant_rls(op.execute, queue, privileges="select, insert, update, delete")
        op.execute(f"grant usage, select on sequence {queue}_id_seq to crm_app")
    for table in TOUCHED:
        for event in EVENTS:
            op.execute(_function_sql(table, event))
            op.execute(_trigger_sql(table, event))


def downgrade() -> None:
    for table in TOUCHED:
        for event in EVENTS:
            op.execute(f"drop trigger if exists {table}_live_{event} on {table}")
            op.execute(f"drop function if exists live_enqueue_{table}_{event}()")
    op.execute("drop table if exists live_index_queue, live_refresh_queue")

"""Keys ready for Citus: tenant_id in every primary key and unique key of a distributed table.

Revision ID: 0009

Citus (docs/scale-out.md) distributes tenant-owned tables by `tenant_id` and enforces a primary key or
unique key only when it contains that column. Here:
- primary keys `(id)` become `(tenant_id, id)`; ids stay unique on their own (`gen_random_uuid()`, bigserial),
  and every query of the app runs under RLS, whose `tenant_id = app_tenant_id()` uses the new key;
- the `unique (tenant_id, id)` constraints foreign keys pointed at are now the primary key: the foreign
  keys onto them are re-created, with the same names and actions, against the primary key;
- `pipeline_stages (pipeline_id, position)` and `user_sessions (token_hash)` become unique per tenant
  (a pipeline belongs to one tenant; a session is looked up inside its tenant, and its token is random).
No behaviour changes: same columns, same constraint names (api.errors names fields from them).
Reference tables (crm.db.distribution.REFERENCE_TABLES) keep their keys: users, api_keys, invitations.
Each statement rebuilds an index under an exclusive lock: on a large install, run it in a quiet hour.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Tables whose primary key is `id` alone today.
REKEYED = [
    "companies", "contacts", "pipelines", "pipeline_stages", "deals", "deal_stage_history", "campaigns",
    "campaign_members", "activities", "notes", "tasks", "user_sessions",
    "deleted_records", "score_history", "landing_quarantine", "quarantined_records",
]
# Those that also carried `unique (tenant_id, id)` for the foreign keys of other tables.
PAIR_KEYED = ["companies", "contacts", "pipelines", "pipeline_stages", "deals", "campaigns"]
# (table, constraint, columns before, columns now, options)
WIDENED = [
    ("pipeline_stages", "pipeline_stages_pipeline_id_position_key", "pipeline_id, position",
     "tenant_id, pipeline_id, position", " deferrable initially deferred"),
    ("user_sessions", "user_sessions_token_hash_key", "token_hash", "tenant_id, token_hash", ""),
]


def _foreign_keys_onto(tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, name, definition) of every foreign key that points at one of `tables`."""
    rows = op.get_bind().execute(text(
        "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
        "where contype = 'f' and confrelid = any(cast(:t as regclass[])) order by conrelid, conname"),
        {"t": tables}).all()
    return [tuple(r) for r in rows]


def _rekey(pk_columns: str, pair_unique: bool) -> None:
    fks = _foreign_keys_onto(REKEYED)
    for table, name, _ in fks:
        op.execute(f"alter table {table} drop constraint {name}")
    for table in REKEYED:
        op.execute(f"alter table {table} drop constraint {table}_pkey, "
                   f"add constraint {table}_pkey primary key ({pk_columns})")
    for table in PAIR_KEYED:
        op.execute(f"alter table {table} add constraint {table}_tenant_id_id_key unique (tenant_id, id)"
                   if pair_unique else f"alter table {table} drop constraint {table}_tenant_id_id_key")
    for table, name, definition in fks:
        op.execute(f"alter table {table} add constraint {name} {definition}")


def upgrade() -> None:
    _rekey("tenant_id, id", pair_unique=False)
    for table, name, _, now, options in WIDENED:
        op.execute(f"alter table {table} drop constraint {name}, add constraint {name} unique ({now}){options}")


def downgrade() -> None:
    for table, name, before, _, options in WIDENED:
        op.execute(f"alter table {table} drop constraint {name}, add constraint {name} unique ({before}){options}")
    _rekey("id", pair_unique=True)

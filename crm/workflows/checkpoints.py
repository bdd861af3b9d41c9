"""Where LangGraph's PostgreSQL checkpointer keeps a run's graph state, and as whom it connects.

The checkpointer's tables (`checkpoints`, `checkpoint_blobs`, `checkpoint_writes`, `checkpoint_migrations`)
carry no tenant_id, so row-level security cannot guard them. They live in their own schema, `workflow_state`,
owned by crm_owner; the only role granted on it is `crm_workflow` (no login, owns nothing, may touch no tenant
table). The API and dashboard connect as crm_app, which has no USAGE on the schema: no API code path can read
another agency's run state. The workflow worker opens its checkpointer connection with the operator's URL and
`role=crm_workflow` (`checkpointer_conninfo`), so the checkpointer itself can reach nothing but its schema.
Thread id = workflow run id.

The tables are created by migration 0018 from the installed library's own `MIGRATIONS` list
(`apply_checkpoint_migrations`), so they exist after `crm migrate` and the worker never needs DDL rights.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import make_url

SCHEMA = "workflow_state"
ROLE = "crm_workflow"
APPLICATION_NAME = "crm-workflow-checkpoints"   # how its sessions show in pg_stat_activity

ROLE_SQL = f"""
do $$ begin
  if not exists (select from pg_roles where rolname = '{ROLE}') then
    create role {ROLE} nologin nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
end $$;
"""


def library_migrations() -> list[str]:
    """The installed checkpointer's schema migrations, in order (their index is the version it records).
    Indexes are built plainly: CONCURRENTLY cannot run inside the migration's transaction, and the tables are
    new (or small) when a migration runs."""
    from langgraph.checkpoint.postgres.base import BasePostgresSaver

    return [m.replace("CONCURRENTLY ", "") for m in BasePostgresSaver.MIGRATIONS]


def apply_checkpoint_migrations(execute: Callable[[str], object], applied: int = -1) -> None:
    """Create / upgrade the checkpointer's tables in `workflow_state` (versions after `applied`), owned by
    crm_owner and granted to crm_workflow only. `execute` runs one SQL string on the migration's connection."""
    execute(ROLE_SQL)
    execute(f"create schema if not exists {SCHEMA} authorization crm_owner")
    execute(f"revoke all on schema {SCHEMA} from public")
    execute(f"grant usage on schema {SCHEMA} to {ROLE}")
    execute(f"select set_config('search_path', '{SCHEMA}', true)")
    try:
        migrations = library_migrations()
        for version, sql in enumerate(migrations):
            if version > applied:
                execute(sql)   # version 0 creates the table the versions are recorded in
                execute(f"insert into checkpoint_migrations (v) values ({version}) on conflict do nothing")
    finally:
        execute("select set_config('search_path', '\"$user\", public', true)")
    for table in ("checkpoint_migrations", "checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        execute(f"alter table {SCHEMA}.{table} owner to crm_owner")
        execute(f"revoke all on {SCHEMA}.{table} from public")
        execute(f"grant select, insert, update, delete on {SCHEMA}.{table} to {ROLE}")


def checkpointer_conninfo(admin_sqlalchemy_url: str) -> str:
    """psycopg conninfo for the checkpointer: the operator's connection, acting as crm_workflow inside
    `workflow_state` from its first statement, without waiting for the disk at each commit."""
    from psycopg.conninfo import make_conninfo

    url = make_url(admin_sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    # synchronous_commit off: a checkpoint write does not wait for the disk. Only a crash of PostgreSQL itself
    # can lose the last few checkpoints; a run then resumes from an earlier one, and the steps it had done are
    # skipped by their rows in workflow_step_runs, which are committed durably with their effects.
    return make_conninfo(url, options=f"-c role={ROLE} -c search_path={SCHEMA} -c synchronous_commit=off",
                         application_name=APPLICATION_NAME)

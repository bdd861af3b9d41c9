"""Row-level security: the one way a table becomes tenant-owned."""

from __future__ import annotations

from collections.abc import Callable

ROLES_SQL = """
do $$ begin
  if not exists (select from pg_roles where rolname = 'crm_owner') then
    create role crm_owner nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'crm_auth') then
    create role crm_auth nologin bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'crm_app') then
    create role crm_app login nosuperuser nobypassrls nocreatedb nocreaterole password %(pw)s;
  else
    alter role crm_app login nosuperuser nobypassrls password %(pw)s;
  end if;
end $$;
"""


def roles_sql(app_password: str) -> str:
    quoted = "'" + app_password.replace("'", "''") + "'"
    return ROLES_SQL % {"pw": quoted}


def enable_tenant_rls(execute: Callable[[str], object], table: str, column: str = "tenant_id",
                      privileges: str = "select, insert, update, delete") -> None:
    """Hand `table` to crm_owner, force RLS on `column = app_tenant_id()`, grant the app role."""
    execute(f"alter table {table} owner to crm_owner")
    execute(f"alter table {table} enable row level security")
    execute(f"alter table {table} force row level security")
    execute(f"drop policy if exists tenant_isolation on {table}")
    execute(
        f"create policy tenant_isolation on {table} "
        f"using ({column} = app_tenant_id()) with check ({column} = app_tenant_id())"
    )
    execute(f"grant {privileges} on {table} to crm_app")

"""`crm tenant create`, `crm tenant set-churn-mode`, `crm apikey create`, `crm migrate` (the other apikey
commands: app/cli/access.py)."""

from typing import Annotated

import typer

from app.cli.output import emit_json, err, fail

tenant_app = typer.Typer(help="Provision tenants (agencies).", no_args_is_help=True)
apikey_app = typer.Typer(help="Issue, list, rotate and revoke API keys.", no_args_is_help=True)


def _db_ready() -> None:
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    ensure_home()
    migrate()


@tenant_app.command("create")
def create_tenant(
    name: Annotated[str, typer.Argument(help="Agency name")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="Email of the tenant's first admin")],
    admin_password: Annotated[str | None, typer.Option("--admin-password", help="Dashboard password")] = None,
    churn_mode: Annotated[str, typer.Option(help="contractual | activity")] = "contractual",
) -> None:
    """Create a tenant with its admin user; prints tenant_id, api_key (shown once) and admin_email."""
    from crm.tenancy import TenancyError, create_tenant

    _db_ready()
    try:
        emit_json(create_tenant(name, admin_email, admin_password, churn_mode=churn_mode))
    except TenancyError as exc:
        fail(str(exc))
    err.print("Keep the api_key: it is shown only this once. Try: curl -H 'Authorization: Bearer <api_key>' "
              "http://127.0.0.1:8000/api/v1/contacts")


@tenant_app.command("set-churn-mode")
def set_churn_mode(
    tenant_id: Annotated[str, typer.Argument(help="Tenant id")],
    churn_mode: Annotated[str, typer.Argument(help="contractual (a contract ends: churned_at) | activity (no "
                                                   "order in the next 90 days)")],
) -> None:
    """Change how a tenant's churn is defined; prints tenant_id, name and churn_mode. The next pipeline run
    rebuilds that tenant's accounts and churn labels under the new mode."""
    from crm.tenancy import TenancyError
    from crm.tenancy import set_churn_mode as change

    _db_ready()
    try:
        settings = change(tenant_id, churn_mode)
    except TenancyError as exc:
        fail(str(exc))
    emit_json({k: settings[k] for k in ("tenant_id", "name", "churn_mode")})
    err.print("Takes effect at the next pipeline run: crm pipeline run")


@apikey_app.command("create")
def create_key(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id")],
    role: Annotated[str, typer.Option("--role", help="admin | member | read-only")] = "member",
    name: Annotated[str, typer.Option("--name", help="What the key is for")] = "",
) -> None:
    """Issue an API key for a tenant; prints api_key (shown once), tenant_id and role."""
    from crm.tenancy import TenancyError, create_api_key

    _db_ready()
    try:
        emit_json(create_api_key(tenant, role=role, name=name))
    except TenancyError as exc:
        fail(str(exc))


def migrate_cmd() -> None:
    """Apply database migrations (also done by every command that needs the database)."""
    _db_ready()
    err.print("database schema is up to date")

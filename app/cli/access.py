"""`crm apikey list|rotate|revoke` and `crm user list|invite|set-role|deactivate|reactivate`.

The operator's view of what an agency's admins do in the settings page and the API: the same crm.access
functions, under the tenant's row-level security. JSON on stdout, messages on stderr.
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

import typer

from app.cli.output import emit_json, err, fail
from crm.ids import InvalidId, parse_uuid

user_app = typer.Typer(help="Manage a tenant's users: list, invite, change role, deactivate.", no_args_is_help=True)

TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id")]


def _in_tenant(tenant: str, work: Callable[[Any, uuid.UUID], Any]) -> Any:
    """Run `work(session, tenant_id)` in the tenant's RLS session; errors become one clear line."""
    from sqlalchemy import text

    from app.cli.tenants import _db_ready
    from crm.access import AccessError
    from crm.db.engine import tenant_session

    try:
        tid = parse_uuid(tenant, "tenant id")
    except InvalidId:
        fail(f"{tenant!r} is not a tenant id (a UUID)")
    _db_ready()
    try:
        with tenant_session(tid) as s:
            if s.execute(text("select 1 from tenants")).first() is None:
                fail(f"no tenant with id {tid}")
            return work(s, tid)
    except AccessError as exc:
        fail(str(exc))


def _id(value: str, kind: str) -> uuid.UUID:
    try:
        return parse_uuid(value, f"{kind} id")
    except InvalidId:
        fail(f"{value!r} is not a valid {kind} id (a UUID)")


def _key_json(k) -> dict:
    return {"id": str(k.id), "name": k.name, "prefix": k.prefix, "role": k.role, "created_at": k.created_at,
            "last_used_at": k.last_used_at, "revoked_at": k.revoked_at}


def _user_json(u) -> dict:
    return {"id": str(u.id), "email": u.email, "name": u.name, "role": u.role, "is_active": u.is_active,
            "created_at": u.created_at}


def list_keys(tenant: TenantOpt) -> None:
    """List a tenant's API keys (never their secrets): role, last use, revocation."""
    from crm.access import list_api_keys

    emit_json(_in_tenant(tenant, lambda s, _: [_key_json(k) for k in list_api_keys(s)]))


def revoke_key(key_id: Annotated[str, typer.Argument(help="API key id (from `crm apikey list`)")],
               tenant: TenantOpt) -> None:
    """Revoke an API key; requests with it are refused from now on."""
    from crm.access import revoke_api_key

    kid = _id(key_id, "API key")
    emit_json(_in_tenant(tenant, lambda s, _: _key_json(revoke_api_key(s, kid))))
    err.print("revoked: requests with this key now answer 401")


def rotate_key(key_id: Annotated[str, typer.Argument(help="API key id (from `crm apikey list`)")],
               tenant: TenantOpt) -> None:
    """Replace an API key by a new one with the same name and role; the old one stops at once."""
    from crm.access import rotate_api_key

    kid = _id(key_id, "API key")

    def work(s, tid):
        issued = rotate_api_key(s, kid)
        return {"api_key": issued.api_key, "tenant_id": str(tid), "role": issued.row.role,
                "id": str(issued.row.id), "name": issued.row.name}

    emit_json(_in_tenant(tenant, work))
    err.print("Keep the new api_key: it is shown only this once. The old key is revoked.")


@user_app.command("list")
def list_users(tenant: TenantOpt) -> None:
    """List a tenant's users with their role and whether they are active."""
    from crm.access import list_users as users

    emit_json(_in_tenant(tenant, lambda s, _: [_user_json(u) for u in users(s)]))


@user_app.command("invite")
def invite(email: Annotated[str, typer.Argument(help="Email of the person to invite")], tenant: TenantOpt,
           role: Annotated[str, typer.Option("--role", help="admin | member | read-only")] = "member",
           name: Annotated[str, typer.Option("--name", help="Their name (they can change it)")] = "") -> None:
    """Invite a user; prints the one-time invitation link (valid 7 days) to pass on to them."""
    from crm.access import invite_user

    def work(s, tid):
        inv = invite_user(s, tid, email, role, name)
        return {"invitation_id": str(inv.id), "email": inv.email, "role": inv.role, "invite_link": inv.invite_link,
                "expires_at": inv.expires_at}

    out = _in_tenant(tenant, work)
    emit_json(out)
    err.print(f"No email is sent: pass the link on, e.g. http://127.0.0.1:8000{out['invite_link']} "
              "(it works once, for 7 days).")


@user_app.command("set-role")
def set_role(user_id: Annotated[str, typer.Argument(help="User id (from `crm user list`)")],
             role: Annotated[str, typer.Argument(help="admin | member | read-only")], tenant: TenantOpt) -> None:
    """Change a user's role (the workspace's last active admin stays admin)."""
    from crm.access import update_user

    uid = _id(user_id, "user")
    emit_json(_in_tenant(tenant, lambda s, _: _user_json(update_user(s, uid, role=role))))


def _set_active(user_id: str, tenant: str, active: bool) -> None:
    from crm.access import update_user

    uid = _id(user_id, "user")
    emit_json(_in_tenant(tenant, lambda s, _: _user_json(update_user(s, uid, is_active=active))))


@user_app.command("deactivate")
def deactivate(user_id: Annotated[str, typer.Argument(help="User id (from `crm user list`)")],
               tenant: TenantOpt) -> None:
    """Deactivate a user: they cannot sign in, and their dashboard session ends at once."""
    _set_active(user_id, tenant, False)


@user_app.command("reactivate")
def reactivate(user_id: Annotated[str, typer.Argument(help="User id (from `crm user list`)")],
               tenant: TenantOpt) -> None:
    """Let a deactivated user sign in again."""
    _set_active(user_id, tenant, True)

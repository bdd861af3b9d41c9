"""`crm apikey list|rotate|revoke` and `crm user list|invite|set-role|deactivate|reactivate`: JSON on stdout,
effective at once, confined to the named tenant."""

from __future__ import annotations

import json
import uuid

from typer.testing import CliRunner

from app.cli.main import app
from crm.access import accept_invitation
from crm.tenancy import authenticate_api_key, authenticate_user, create_api_key, create_user

runner = CliRunner()


def _run(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def test_apikey_list_rotate_revoke(tenant):
    tid = tenant["tenant_id"]
    issued = create_api_key(tid, role="read-only", name="reporting")
    keys = _run("apikey", "list", "--tenant", tid)
    assert {k["name"] for k in keys} == {"initial admin key", "reporting"}
    assert all("api_key" not in k and "key_hash" not in k for k in keys)
    reporting = next(k for k in keys if k["name"] == "reporting")

    rotated = _run("apikey", "rotate", reporting["id"], "--tenant", tid)
    assert (rotated["role"], rotated["name"], rotated["tenant_id"]) == ("read-only", "reporting", tid)
    assert authenticate_api_key(issued["api_key"]) is None
    assert authenticate_api_key(rotated["api_key"]).role == "read-only"

    revoked = _run("apikey", "revoke", rotated["id"], "--tenant", tid)
    assert revoked["revoked_at"] is not None and authenticate_api_key(rotated["api_key"]) is None


def test_apikey_commands_stay_in_their_tenant(tenant, other_tenant):
    theirs = next(k for k in _run("apikey", "list", "--tenant", other_tenant["tenant_id"]))
    assert "not found" in _fails("apikey", "revoke", theirs["id"], "--tenant", tenant["tenant_id"])
    assert "not found" in _fails("apikey", "rotate", theirs["id"], "--tenant", tenant["tenant_id"])
    assert authenticate_api_key(other_tenant["api_key"]) is not None
    assert "not a tenant id" in _fails("apikey", "list", "--tenant", "nope")
    assert "no tenant with id" in _fails("apikey", "list", "--tenant", str(uuid.uuid4()))
    assert "not a valid API key id" in _fails("apikey", "revoke", "nope", "--tenant", tenant["tenant_id"])


def test_user_invite_accept_role_and_deactivate(tenant):
    tid = tenant["tenant_id"]
    email = f"cli-{uuid.uuid4().hex[:8]}@agency.example"
    invite = _run("user", "invite", email, "--tenant", tid, "--role", "read-only")
    assert invite["email"] == email and invite["invite_link"].startswith("/invite/")
    accept_invitation(invite["invite_link"].removeprefix("/invite/"), "Cli Person", "cli-password-1")
    users = _run("user", "list", "--tenant", tid)
    me = next(u for u in users if u["email"] == email)
    assert me["role"] == "read-only" and me["is_active"]

    assert _run("user", "set-role", me["id"], "member", "--tenant", tid)["role"] == "member"
    assert authenticate_user(email, "cli-password-1").role == "member"
    assert _run("user", "deactivate", me["id"], "--tenant", tid)["is_active"] is False
    assert authenticate_user(email, "cli-password-1") is None
    assert _run("user", "reactivate", me["id"], "--tenant", tid)["is_active"] is True
    assert authenticate_user(email, "cli-password-1") is not None


def test_user_commands_keep_the_last_admin_and_clear_errors(tenant, other_tenant):
    tid = tenant["tenant_id"]
    admin = next(u for u in _run("user", "list", "--tenant", tid) if u["role"] == "admin")
    assert "last active admin" in _fails("user", "deactivate", admin["id"], "--tenant", tid)
    assert "last active admin" in _fails("user", "set-role", admin["id"], "member", "--tenant", tid)
    assert "role must be one of" in _fails("user", "set-role", admin["id"], "owner", "--tenant", tid)
    assert "already a user" in _fails("user", "invite", tenant["admin_email"], "--tenant", tid)
    assert "not an email" in _fails("user", "invite", "nobody", "--tenant", tid)
    create_user(other_tenant["tenant_id"], f"x-{uuid.uuid4().hex[:6]}@b.example", "other-password")
    theirs = _run("user", "list", "--tenant", other_tenant["tenant_id"])[0]
    assert "not found" in _fails("user", "deactivate", theirs["id"], "--tenant", tid)
    assert authenticate_user(other_tenant["admin_email"], other_tenant["password"]) is not None

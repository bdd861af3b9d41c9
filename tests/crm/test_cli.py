"""The `crm` command: tenant and API key provisioning print the contract JSON; `crm serve` answers /healthz."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from typer.testing import CliRunner

from app.cli.main import app
from crm.tenancy import authenticate_api_key

runner = CliRunner()


def _email() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}@example.com"


def test_tenant_create_prints_contract_json():
    email = _email()
    result = runner.invoke(app, ["tenant", "create", "CLI Agency", "--admin-email", email,
                                 "--admin-password", "pw-123456"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"tenant_id", "api_key", "admin_email"}
    assert out["admin_email"] == email
    principal = authenticate_api_key(out["api_key"])
    assert principal is not None and str(principal.tenant_id) == out["tenant_id"] and principal.role == "admin"


def test_tenant_create_refuses_a_taken_email():
    email = _email()
    assert runner.invoke(app, ["tenant", "create", "First", "--admin-email", email]).exit_code == 0
    again = runner.invoke(app, ["tenant", "create", "Second", "--admin-email", email])
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(app, ["tenant", "create", "Third", "--admin-email", "nobody"])
    assert bad.exit_code != 0 and "not an email" in bad.output


def test_apikey_create_prints_contract_json(tenant):
    result = runner.invoke(app, ["apikey", "create", "--tenant", tenant["tenant_id"], "--role", "read-only"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"api_key", "tenant_id", "role"}
    assert out["tenant_id"] == tenant["tenant_id"] and out["role"] == "read-only"
    assert authenticate_api_key(out["api_key"]).role == "read-only"
    default = json.loads(runner.invoke(app, ["apikey", "create", "--tenant", tenant["tenant_id"]]).stdout)
    assert default["role"] == "member"


def test_apikey_create_errors_are_clear(tenant):
    for args, words in ((["--tenant", tenant["tenant_id"], "--role", "owner"], "role must be one of"),
                        (["--tenant", "nope"], "not a tenant id"),
                        (["--tenant", str(uuid.uuid4())], "no tenant with id")):
        result = runner.invoke(app, ["apikey", "create", *args])
        assert result.exit_code == 1 and words in result.output, result.output


def test_migrate_command():
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0 and "up to date" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_crm_serve_answers_healthz(crm_home: Path):
    port = _free_port()
    env = {**os.environ, "CRM_HOME": str(crm_home)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, last = time.monotonic() + 180, None  # importing the app takes a while on a busy machine
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                last = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert last is not None and last.status_code == 200 and last.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/contacts", timeout=5).status_code == 401
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_crm_import_prints_report_and_fails_on_bad_rows(tenant, tmp_path):
    good = tmp_path / "contacts.csv"
    good.write_text("Email,Name\nann@example.com,Ann Lee\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "contacts", str(good), "--tenant", tenant["tenant_id"]])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["created"] == 1
    mapped = tmp_path / "mapped.csv"
    mapped.write_text("Courriel,Poste\nann@example.com,CEO\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "contacts", str(mapped), "--tenant", tenant["tenant_id"],
                                 "--map", "Courriel=email", "--map", "Poste=title"])
    assert result.exit_code == 0 and json.loads(result.stdout)["updated"] == 1

    bad = tmp_path / "bad.csv"
    bad.write_text("email\nok@example.com\nnope\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "contacts", str(bad), "--tenant", tenant["tenant_id"]])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["row"] == 3
    assert "line 3" in result.stderr and "nothing was imported" in result.stderr

    for args, words in ((["invoices", str(good), "--tenant", tenant["tenant_id"]], "choose one of"),
                        (["contacts", str(good), "--tenant", tenant["tenant_id"], "--map", "oops"], "--map"),
                        (["contacts", str(good), "--tenant", str(uuid.uuid4())], "no tenant")):
        result = runner.invoke(app, ["import", *args])
        assert result.exit_code == 1 and words in result.output, result.output


def test_tenant_set_churn_mode_changes_only_that_tenant(tenant, other_tenant):
    result = runner.invoke(app, ["tenant", "set-churn-mode", tenant["tenant_id"], "activity"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["tenant_id"] == tenant["tenant_id"] and out["churn_mode"] == "activity"
    from crm.db.engine import tenant_session
    from crm.tenancy import tenant_settings

    for t, mode in ((tenant, "activity"), (other_tenant, "contractual")):
        with tenant_session(t["tenant_id"]) as s:
            assert tenant_settings(s)["churn_mode"] == mode
    for args, words in (([tenant["tenant_id"], "weekly"], "churn mode must be one of"),
                        ([str(uuid.uuid4()), "activity"], "no tenant with id"),
                        (["not-a-uuid", "activity"], "is not a tenant id")):
        bad = runner.invoke(app, ["tenant", "set-churn-mode", *args])
        assert bad.exit_code != 0 and words in bad.output, bad.output
    refused = runner.invoke(app, ["tenant", "create", "Odd", "--admin-email", _email(), "--churn-mode", "weekly"])
    assert refused.exit_code != 0 and "churn mode must be one of" in refused.output

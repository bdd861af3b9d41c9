"""Tenancy: users with argon2 passwords, authentication, provisioning errors; engine URLs."""

from __future__ import annotations

import uuid

import pytest

from crm.db import engine as engine_mod
from crm.settings import Settings
from crm.tenancy import (
    TenancyError,
    authenticate_api_key,
    authenticate_user,
    create_tenant,
    create_user,
    tenant_name,
)


def test_users_authenticate_with_their_password_only(tenant):
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    user_id = create_user(tenant["tenant_id"], email, "correct horse", role="member")
    principal = authenticate_user(email.upper(), "correct horse")
    assert principal is not None and principal.user_id == user_id and principal.role == "member"
    assert str(principal.tenant_id) == tenant["tenant_id"]
    assert authenticate_user(email, "wrong") is None
    assert authenticate_user("nobody@example.com", "correct horse") is None
    admin = authenticate_user(tenant["admin_email"], tenant["password"])
    assert admin is not None and admin.role == "admin"


def test_user_created_without_password_cannot_log_in():
    out = create_tenant("No Password Agency", f"np-{uuid.uuid4().hex[:8]}@example.com")
    assert authenticate_user(out["admin_email"], "") is None
    assert authenticate_api_key(out["api_key"]).role == "admin"


def test_provisioning_errors(tenant):
    with pytest.raises(TenancyError, match="empty"):
        create_tenant("  ", "x@example.com")
    with pytest.raises(TenancyError, match="role must be one of"):
        create_user(tenant["tenant_id"], "r@example.com", "pw", role="owner")
    assert tenant_name(uuid.UUID(tenant["tenant_id"])).startswith("Tenant A")


def test_database_url_replaces_the_embedded_server(monkeypatch):
    settings = Settings(database_url="postgresql://owner:pw@db.internal:5433/crm", crm_app_db_password="s3cret")
    monkeypatch.setattr(engine_mod, "get_settings", lambda: settings)
    assert engine_mod.admin_url() == "postgresql+psycopg://owner:pw@db.internal:5433/crm"
    assert engine_mod.app_url() == "postgresql+psycopg://crm_app:s3cret@db.internal:5433/crm"


def test_no_mode_has_placeholder_secrets(tmp_path):
    settings = Settings(crm_env="production", crm_home=tmp_path)  # unset secrets are generated (test_secrets.py)
    assert settings.session_secret != "dev-insecure-secret-change-me" and settings.app_db_password != "crm_app"


def test_healthz_is_503_when_the_database_is_unreachable(monkeypatch):
    from fastapi.testclient import TestClient

    from api.main import app
    from crm.db import one_trip

    # a client used without its context has no pool: the check connects with this URL
    monkeypatch.setattr(one_trip, "app_url", lambda: "postgresql+psycopg://crm_app:x@/postgres?host=/nonexistent-dir")
    r = TestClient(app).get("/healthz")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert "database unreachable" in r.json()["detail"]

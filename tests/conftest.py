"""Shared fixtures: one real embedded PostgreSQL per test process, a fresh tenant per test."""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["CRM_ENV"] = "test"


@pytest.fixture(scope="session", autouse=True)
def crm_home(tmp_path_factory):
    """A private CRM_HOME (and so a private embedded PostgreSQL) for this test process."""
    from crm.db.embedded import attached_servers

    if early := attached_servers():  # e.g. a module that runs the app's lifespan when it is collected
        pytest.fail(f"an embedded PostgreSQL was started before the session's CRM_HOME existed: {early}")
    home = tmp_path_factory.mktemp("crm")
    previous = os.environ.get("CRM_HOME")
    os.environ["CRM_HOME"] = str(home)
    from crm.settings import reset_settings

    reset_settings()
    if not os.environ.get("DATABASE_URL"):
        from crm.db.embedded import embedded_server

        embedded_server.cache_clear()
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    ensure_home()
    migrate()
    yield home
    reset_settings()  # disposes the engines, so nothing of ours still talks to the server
    if not os.environ.get("DATABASE_URL"):
        _release_and_check_embedded_servers()
    if previous is None:
        os.environ.pop("CRM_HOME", None)
    else:
        os.environ["CRM_HOME"] = previous


def _release_and_check_embedded_servers(bound: float = 60) -> None:
    """The suite leaves no server running: detach from every embedded server this process attached
    (its own home's, and private homes like the notebooks'); each must then stop, unless a process the
    tests started is still attached (a leaked `crm serve`, kernel, ...)."""
    import time

    from crm.db.embedded import release_embedded_servers
    from crm.db.watchdog import postmaster_pid

    pgdatas = release_embedded_servers()
    deadline = time.monotonic() + bound  # a SIGKILLed straggler is caught by the watchdog within a second
    while (running := [d for d in pgdatas if postmaster_pid(d)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running:
        listed = {str(d): (d / ".handle_pids.json").read_text() for d in running}
        pytest.fail(f"embedded PostgreSQL still running after the session, attached pids: {listed}")


def make_tenant(name: str = "Agency", role_password: str = "s3cret-pass") -> dict:
    from crm.tenancy import create_tenant

    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    out = create_tenant(f"{name} {uuid.uuid4().hex[:6]}", email, role_password)
    out["password"] = role_password
    out["headers"] = {"Authorization": f"Bearer {out['api_key']}"}
    return out


@pytest.fixture
def tenant() -> dict:
    """A fresh tenant with an admin user and admin API key (`headers` ready for requests)."""
    return make_tenant("Tenant A")


@pytest.fixture
def other_tenant() -> dict:
    return make_tenant("Tenant B")

"""Each part of the product connects to PostgreSQL under its own name (`crm.db.engine.name_connections`):
what `pg_stat_activity` shows an operator. `crm serve`'s workers are checked in tests/api/test_admission.py."""

from __future__ import annotations

import psycopg

from crm.db.engine import app_url, name_connections, psycopg_conninfo


def _application_name() -> str:
    with psycopg.connect(psycopg_conninfo(app_url())) as conn:
        return conn.execute("show application_name").fetchone()[0]


def test_a_named_process_connects_under_its_name(monkeypatch):
    monkeypatch.setenv("PGAPPNAME", "")   # so that the name set below is undone after the test
    monkeypatch.delenv("PGAPPNAME")
    name_connections("refresher")
    assert _application_name() == "crm-refresher"


def test_a_name_the_environment_sets_wins(monkeypatch):
    monkeypatch.setenv("PGAPPNAME", "agency-ops")
    name_connections("refresher")
    assert _application_name() == "agency-ops"

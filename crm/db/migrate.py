"""Apply the schema: roles first (their password is a setting), then Alembic migrations.

Called by `crm serve`, by every CLI command that touches the database, and by the test fixtures.
A PostgreSQL advisory lock makes concurrent start-ups (API + Dagster + CLI) take turns.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from crm.db.engine import admin_engine
from crm.db.rls import roles_sql
from crm.settings import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_214_001


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def migrate() -> None:
    with admin_engine().begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        conn.execute(text(roles_sql(get_settings().app_db_password)))
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

"""How dbt is invoked: project paths, target choice and the environment its profiles.yml reads.

`profiles.yml` reads CRM_HOME (duckdb target) and CRM_PG_* (postgres target); both are derived here
from the product's one settings object, so dbt, Dagster and the CLI always point at the same stores.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy.engine import make_url

from crm.settings import get_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"


def dbt_target() -> str:
    """The dbt target is the warehouse target: `duckdb` or `postgres` (crm.warehouse, from CRM_WAREHOUSE)."""
    from crm.warehouse import target

    return target()


def postgres_parts() -> dict[str, str]:
    from crm.db.engine import admin_url

    url = make_url(admin_url())
    host = url.query.get("host") or url.host or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    return {
        "CRM_PG_HOST": str(host),
        "CRM_PG_PORT": str(url.port or 5432),
        "CRM_PG_USER": url.username or "postgres",
        "CRM_PG_PASSWORD": url.password or "",
        "CRM_PG_DATABASE": url.database or "postgres",
    }


def dbt_env(target: str | None = None) -> dict[str, str]:
    """Environment variables for a dbt run on `target` (duckdb | postgres)."""
    target = target or dbt_target()
    env = {
        "CRM_HOME": str(get_settings().home),
        "DO_NOT_TRACK": "true",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # dbt.log beside each run's artifacts at info, not debug: the debug file log (every event, every
        # statement) was about a sixth of a build's CPU; the SQL run is still under the target's run/ folder
        "DBT_LOG_LEVEL_FILE": "info",
    }
    if target == "postgres":
        env.update(postgres_parts())
    return env


def apply_dbt_env(target: str | None = None) -> None:
    os.environ.update(dbt_env(target))


def run_target_path(run_id: str, keep: int = 5) -> Path:
    """A fresh dbt target folder for one run under $CRM_HOME/dbt_runs, pruning all but the newest `keep`."""
    root = get_settings().home / "dbt_runs"
    root.mkdir(parents=True, exist_ok=True)
    old = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in old[: max(0, len(old) - keep + 1)]:
        shutil.rmtree(stale, ignore_errors=True)
    return root / run_id

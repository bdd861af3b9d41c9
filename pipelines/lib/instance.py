"""The Dagster instance lives in $CRM_HOME/dagster, configured by the repository's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from crm.settings import get_settings

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def ensure_dagster_home() -> Path:
    """Create $CRM_HOME/dagster with the project's dagster.yaml and point DAGSTER_HOME at it."""
    home = Path(os.environ.get("DAGSTER_HOME") or get_settings().dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if REPO_DAGSTER_YAML.exists() and (
        not target.exists() or target.read_bytes() != REPO_DAGSTER_YAML.read_bytes()
    ):
        shutil.copyfile(REPO_DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return home

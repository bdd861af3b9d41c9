"""The state directory `$CRM_HOME`: everything the product writes on this machine lives under it."""

from __future__ import annotations

from pathlib import Path

from crm.settings import get_settings


def ensure_home() -> Path:
    s = get_settings()
    for d in (s.home, s.landing_dir, s.ground_truth_dir, s.dagster_home, s.mlflow_artifacts_dir):
        d.mkdir(parents=True, exist_ok=True)
    return s.home


def logs_dir() -> Path:
    """Full logs of long runs (pipeline runs, the demo's server), kept out of the terminal."""
    path = get_settings().home / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path

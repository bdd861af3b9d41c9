"""A private CRM_HOME for one test module: its own embedded PostgreSQL, warehouse, MLflow store and Dagster
instance, so other modules' rows in this process can neither break a whole-pipeline run (dbt tests see
every tenant of the database) nor be slowed by it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def private_home(path: Path, env: dict[str, str] | None = None) -> Iterator[Path]:
    """Switch the process to CRM_HOME=`path` (migrated), with `env` set (e.g. CRM_WAREHOUSE), and back."""
    import mlflow

    from crm.db.embedded import embedded_server
    from crm.db.migrate import migrate
    from crm.settings import get_settings, reset_settings
    from crm.state import ensure_home

    env = env or {}
    previous, dagster_home = os.environ["CRM_HOME"], os.environ.get("DAGSTER_HOME")
    before = {k: os.environ.get(k) for k in env}
    # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI, which settings read back: forget what
    # this process exported so each home gets its own store, and hand the outer one back afterwards
    mlflow_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}

    def switch(home: str, values: dict[str, str | None]) -> None:
        os.environ["CRM_HOME"] = home
        for key, value in values.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        for key in mlflow_env:
            os.environ.pop(key, None)
        reset_settings()
        embedded_server.cache_clear()
        if mlflow.is_tracking_uri_set():  # training and model loading set both process-wide; follow the home
            mlflow.set_tracking_uri(get_settings().mlflow_uri)
            mlflow.set_registry_uri(get_settings().mlflow_uri)

    switch(str(path), dict(env))
    os.environ.pop("DAGSTER_HOME", None)
    try:
        ensure_home()
        migrate()
        yield path
    finally:
        switch(previous, before)
        for key, value in mlflow_env.items():
            if value is not None:
                os.environ[key] = value
        reset_settings()
        if mlflow.is_tracking_uri_set():
            mlflow.set_tracking_uri(get_settings().mlflow_uri)
            mlflow.set_registry_uri(get_settings().mlflow_uri)
        os.environ.pop("DAGSTER_HOME", None)  # run_pipeline points it at the home it ran in
        if dagster_home:
            os.environ["DAGSTER_HOME"] = dagster_home

"""Run the dbt CLI outside Dagster (tests, benchmarks) against either target, in a private target dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipelines.lib.dbt_env import DBT_PROJECT_DIR, dbt_env
from pipelines.lib.manifest import dbt_executable


def run_dbt(args: list[str], target: str = "duckdb", crm_home: Path | None = None, vars: dict | None = None,
            target_path: Path | None = None) -> subprocess.CompletedProcess:
    """`dbt <args>` on `target`; `crm_home` overrides where the duckdb target's warehouse file lives.

    Without `target_path`, dbt writes its target and logs to a private temporary folder, removed afterwards
    (its output is the returned process's stdout and stderr)."""
    env = {**os.environ, **dbt_env(target)}
    if crm_home is not None:
        env["CRM_HOME"] = str(crm_home)
    tmp = target_path or Path(tempfile.mkdtemp(prefix="crm-dbt-"))
    env.update({"DBT_TARGET_PATH": str(tmp), "DBT_LOG_PATH": str(tmp)})
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target", target]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True)
    finally:
        if target_path is None:
            shutil.rmtree(tmp, ignore_errors=True)

"""The dbt CLI resource; the target follows the CRM_WAREHOUSE switch (duckdb | postgres)."""

from __future__ import annotations

from dagster_dbt import DbtCliResource, DbtProject

from pipelines.lib.dbt_env import DBT_PROJECT_DIR, dbt_target
from pipelines.lib.manifest import dbt_executable

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=dbt_target())

RESOURCES = {
    "dbt": DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), target=dbt_target(),
                          dbt_executable=dbt_executable()),
}

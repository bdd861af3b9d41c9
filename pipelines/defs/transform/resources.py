"""The dbt CLI resource. Its target follows the CRM_WAREHOUSE switch at run time (the asset passes
`--target`), so definitions imported before the environment is final never freeze a target."""

from __future__ import annotations

from dagster_dbt import DbtCliResource, DbtProject

from pipelines.lib.dbt_env import DBT_PROJECT_DIR
from pipelines.lib.manifest import dbt_executable

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

RESOURCES = {
    "dbt": DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()),
}

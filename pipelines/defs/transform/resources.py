"""The dbt CLI resource. Its target follows the CRM_WAREHOUSE switch at run time (the asset passes
`--target`), so definitions imported before the environment is final never freeze a target."""

from __future__ import annotations

import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from pipelines.lib.dbt_env import DBT_PROJECT_DIR
from pipelines.lib.manifest import dbt_executable

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class CrmDbtCliResource(DbtCliResource):
    """dagster-dbt asks the executable for its version before each invocation (`dbt --version`: a whole dbt
    process, 5 s or more of CPU on a 2-core machine, ahead of every build). The dbt beside this interpreter
    is the installed dbt-core's own entry point, so its version is read from the installed package; any other
    executable is still asked."""

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return Version(installed_version("dbt-core"))
        return super()._cli_version


RESOURCES = {
    "dbt": CrmDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR),
                             dbt_executable=dbt_executable()),
}

"""Transform: every dbt model is an asset (key = model name, group `transform`); dbt tests are checks."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines.defs.transform.resources import dbt_project
from pipelines.lib.dbt_env import apply_dbt_env, dbt_target, run_target_path
from pipelines.lib.manifest import ensure_manifest

ensure_manifest()


class CrmDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":  # the extract's raw tables
            return AssetKey(["raw", dbt_resource_props["name"]])
        return AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return "transform"


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=CrmDbtTranslator())
def crm_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    apply_dbt_env()
    # dbt's run artifacts go under CRM_HOME (not the source tree), newest few kept for debugging
    yield from dbt.cli(["build", "--target", dbt_target()], context=context,
                       target_path=run_target_path(context.run_id)).stream()

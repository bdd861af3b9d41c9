"""Publish: marts the API and dashboard need, swapped atomically into PostgreSQL `analytics.*` under RLS."""

from dagster import AssetKey, AssetsDefinition, MaterializeResult, asset

from crm.ingest.publish import PUBLISHED_MARTS, publish
from pipelines.defs.ingest.resources import WarehouseResource


def _publish_asset(name: str) -> AssetsDefinition:
    @asset(name=name, key_prefix="analytics", group_name="publish", deps=[AssetKey(name)],
           kinds={"postgres"}, description=f"marts.{name} published to analytics.{name} (RLS per tenant)")
    def _publish(warehouse: WarehouseResource) -> MaterializeResult:
        result = publish(name, warehouse.target())
        return MaterializeResult(metadata={"rows": result.rows, "tenants": result.tenants})

    return _publish


PUBLISH_ASSETS = [_publish_asset(name) for name in PUBLISHED_MARTS]

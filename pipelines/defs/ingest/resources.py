"""Ingest resources, chosen by the one environment switch CRM_WAREHOUSE (settings.crm_warehouse)."""

from __future__ import annotations

from dagster import ConfigurableResource

from crm.settings import get_settings


class WarehouseResource(ConfigurableResource):
    """Where the marts are built: `duckdb` (the warehouse file under CRM_HOME) or `postgres`."""

    kind: str = "duckdb"
    path: str = ""

    @property
    def uses_duckdb(self) -> bool:
        return self.kind == "duckdb"


def warehouse_resource() -> WarehouseResource:
    s = get_settings()
    return WarehouseResource(kind=s.crm_warehouse, path=str(s.warehouse_path))


RESOURCES = {"warehouse": warehouse_resource()}

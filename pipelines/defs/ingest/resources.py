"""Ingest resources, chosen by the one environment switch CRM_WAREHOUSE (settings.crm_warehouse)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from crm.settings import get_settings


class WarehouseResource(ConfigurableResource):
    """Where the marts are built: `duckdb` (the warehouse file under CRM_HOME) or `postgres`.

    An empty `path` means the settings' warehouse at run time: definitions are often imported before
    CRM_HOME is final (test collection, code servers), so nothing path-like is frozen at import.
    """

    kind: str = "duckdb"
    path: str = ""

    @property
    def uses_duckdb(self) -> bool:
        return self.kind == "duckdb"

    def warehouse_path(self) -> Path:
        return Path(self.path) if self.path else get_settings().warehouse_path


def warehouse_resource() -> WarehouseResource:
    return WarehouseResource(kind=get_settings().crm_warehouse)


RESOURCES = {"warehouse": warehouse_resource()}

"""Ingest resources: the warehouse, whose target is crm.warehouse's (CRM_WAREHOUSE), read at run time."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from crm import warehouse


class WarehouseResource(ConfigurableResource):
    """Where the marts are built: `duckdb` (the warehouse file under CRM_HOME) or `postgres`.

    Empty fields mean crm.warehouse's choice at run time (CRM_WAREHOUSE, the settings' file): definitions
    are often imported before the environment is final (test collection, code servers), so nothing is
    frozen at import. `kind`/`path` pin another target or DuckDB file.
    """

    kind: str = ""
    path: str = ""

    def target(self) -> str:
        return warehouse.target(self.kind or None)

    @property
    def uses_duckdb(self) -> bool:
        return warehouse.has_extract(self.target())

    def warehouse_path(self) -> Path:
        return warehouse.duckdb_path(Path(self.path) if self.path else None)


RESOURCES = {"warehouse": WarehouseResource()}

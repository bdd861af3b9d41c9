"""Which PostgreSQL tables the warehouse copies, by what key, and which column moves the watermark."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceTable:
    name: str
    key: tuple[str, ...] = ("id",)
    watermark: str = "updated_at"
    # Columns that never leave the system of record (secrets).
    excluded: tuple[str, ...] = ()
    tombstoned: bool = True


SOURCE_TABLES: tuple[SourceTable, ...] = (
    SourceTable("tenants", excluded=(), tombstoned=False),
    SourceTable("users", excluded=("password_hash",)),
    SourceTable("companies"),
    SourceTable("contacts"),
    SourceTable("pipelines"),
    SourceTable("pipeline_stages"),
    SourceTable("deals"),
    SourceTable("deal_stage_history"),
    SourceTable("campaigns"),
    SourceTable("campaign_members"),
    SourceTable("activities"),
    SourceTable("notes"),
    SourceTable("tasks"),
    SourceTable("text_sentiment", key=("tenant_id", "source_type", "source_id"), watermark="scored_at",
                tombstoned=False),
)

BY_NAME = {t.name: t for t in SOURCE_TABLES}

# PostgreSQL type (information_schema.data_type) -> DuckDB type; numeric keeps its precision.
PG_TO_DUCKDB = {
    "uuid": "UUID",
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "boolean": "BOOLEAN",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "date": "DATE",
    "timestamp with time zone": "TIMESTAMPTZ",
    "timestamp without time zone": "TIMESTAMP",
    "jsonb": "JSON",
    "json": "JSON",
}


def duckdb_type(data_type: str, precision: int | None, scale: int | None) -> str:
    if data_type == "numeric":
        return f"DECIMAL({precision or 18},{scale or 0})" if precision else "DOUBLE"
    return PG_TO_DUCKDB.get(data_type, "VARCHAR")

"""Dagster project: ingest -> transform (dbt) -> publish; later ml and serving domains plug in."""

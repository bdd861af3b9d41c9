"""Hourly: ingest, rebuild the marts and publish them (and whatever domains add to these groups)."""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

REFRESH_GROUPS = ("ingest", "transform", "publish")

refresh_job = define_asset_job(
    "refresh_job",
    selection=AssetSelection.groups(*REFRESH_GROUPS),
    description="Score sentiment, load landing files, extract to the warehouse, dbt build, publish.",
)

hourly_refresh = ScheduleDefinition(
    name="hourly_refresh",
    job=refresh_job,
    cron_schedule="0 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
)

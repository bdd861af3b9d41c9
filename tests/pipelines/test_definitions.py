"""The Dagster definitions load, with the groups, lineage, schedule and sensor the UI shows."""

from dagster import AssetKey

from pipelines.definitions import defs


def test_definitions_load_with_groups_and_lineage():
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups["text_sentiment"] == "ingest" and groups["landing_activities"] == "ingest"
    assert groups["raw/activities"] == "ingest"
    assert groups["stg_crm__activities"] == "transform" and groups["lead_features"] == "transform"
    assert groups["account_features"] == "transform"
    assert {groups[f"analytics/{m}"] for m in ("kpis", "activities_daily", "pipeline_snapshot",
                                                 "campaign_performance")} == {"publish"}
    assert set(groups.values()) >= {"ingest", "transform", "publish"}

    def parents(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(AssetKey.from_user_string(key)).parent_keys}

    assert "raw/activities" in parents("stg_crm__activities")
    assert {"text_sentiment", "landing_activities"} <= parents("raw/activities")
    assert parents("analytics/kpis") == {"kpis"}


def test_schedule_and_sensor_are_defined():
    schedule = defs.resolve_schedule_def("hourly_refresh")
    assert schedule.cron_schedule == "0 * * * *"
    assert defs.resolve_sensor_def("landing_sensor").job_name == "refresh_job"
    job = defs.resolve_job_def("refresh_job")
    assert job is not None


def test_the_dbt_resource_knows_its_own_dbts_version_without_running_it(tmp_path, monkeypatch):
    import subprocess
    from importlib.metadata import version

    import dagster_dbt.core.resource as dbt_resource

    from pipelines.defs.transform.resources import RESOURCES, CrmDbtCliResource, dbt_project

    def no_process(args, *rest, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(dbt_resource, "check_output", no_process)
    own = RESOURCES["dbt"].model_copy()
    assert str(own._cli_version) == version("dbt-core")   # the dbt beside this interpreter: read, not run

    other = tmp_path / "dbt"   # any other dbt is still asked for its version
    other.write_text("#!/bin/sh\necho 'Core:'; echo '  - installed: 1.10.4'\n")
    other.chmod(0o755)
    monkeypatch.setattr(dbt_resource, "check_output", subprocess.check_output)
    elsewhere = CrmDbtCliResource(project_dir=dbt_project, dbt_executable=str(other))
    assert str(elsewhere._cli_version) == "1.10.4"

"""Materialize the assets in-process (what `crm pipeline run` and the demo call)."""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, DagsterInstance, ExecuteInProcessResult

from crm.state import ensure_home
from pipelines.lib.instance import ensure_dagster_home


def selected_keys(select: str | None) -> list[AssetKey] | None:
    """Dagster's selection syntax (`group:ingest`, `key:kpis+`, `+key:"analytics/kpis"`), or None = all."""
    if not select:
        return None
    from pipelines.definitions import defs

    keys = AssetSelection.from_string(select).resolve(defs.resolve_asset_graph())
    if not keys:
        raise ValueError(f"the selection {select!r} matches no asset")
    return sorted(keys, key=lambda k: k.to_user_string())


def run_pipeline(select: str | None = None, raise_on_error: bool = True,
                 run_config: dict | None = None) -> ExecuteInProcessResult:
    """Materialize all assets (or the selection) in dependency order, recorded in $CRM_HOME/dagster;
    `run_config` as in the launchpad, e.g. {"ops": {"lead_score_model": {"config": {"learning_rate": 0.1}}}}."""
    ensure_home()
    ensure_dagster_home()
    from pipelines.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=DagsterInstance.get(), asset_selection=selected_keys(select),
                                  raise_on_error=raise_on_error, run_config=run_config)


def materialized_keys(result: ExecuteInProcessResult) -> list[str]:
    return sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})


def group_counts(keys: list[str]) -> dict[str, list[str]]:
    """Materialized asset keys by their group, for people reading the CLI output."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    out: dict[str, list[str]] = {}
    for key in keys:
        group = graph.get(AssetKey.from_user_string(key)).group_name or "default"
        out.setdefault(group, []).append(key)
    return out

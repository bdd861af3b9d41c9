"""Materialize the assets in-process (what `crm pipeline run` and the demo call)."""

from __future__ import annotations

import uuid

from dagster import AssetKey, AssetSelection, DagsterInstance, ExecuteInProcessResult

from crm.state import ensure_home
from pipelines.lib.instance import ensure_dagster_home
from pipelines.lib.progress import LOGGER_NAME, ProgressCallback, RunProgress, log_path_for, progress_logger


def selected_keys(select: str | None) -> list[AssetKey] | None:
    """Dagster's selection syntax (`group:ingest`, `key:kpis+`, `+key:"analytics/kpis"`), or None = all."""
    if not select:
        return None
    from pipelines.definitions import defs

    keys = AssetSelection.from_string(select).resolve(defs.resolve_asset_graph())
    if not keys:
        raise ValueError(f"the selection {select!r} matches no asset")
    return sorted(keys, key=lambda k: k.to_user_string())


def run_pipeline(select: str | None = None, raise_on_error: bool = True, run_config: dict | None = None,
                 progress: ProgressCallback | None = None) -> ExecuteInProcessResult:
    """Materialize all assets (or the selection) in dependency order, recorded in $CRM_HOME/dagster;
    `run_config` as in the launchpad, e.g. {"ops": {"lead_score_model": {"config": {"learning_rate": 0.1}}}}.
    Every event goes to $CRM_HOME/logs/pipeline-<run_id>.log (`log_path_for`), none to the console;
    `progress` is called with the run's `RunProgress` after each step, asset or failure event."""
    ensure_home()
    ensure_dagster_home()
    from pipelines.definitions import defs

    keys = selected_keys(select)
    run_id = str(uuid.uuid4())
    state = _new_progress(run_id, keys)
    logger_def, handler = progress_logger(state, progress)
    job = defs.resolve_implicit_global_asset_job_def()
    job = job.with_logger_defs({**job.loggers, LOGGER_NAME: logger_def})
    config = {"loggers": {LOGGER_NAME: {}}, **(run_config or {})}
    try:
        return job.execute_in_process(instance=DagsterInstance.get(), asset_selection=keys, run_id=run_id,
                                      raise_on_error=raise_on_error, run_config=config)
    finally:
        handler.close()


def _new_progress(run_id: str, keys: list[AssetKey] | None) -> RunProgress:
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    wanted = set(keys) if keys is not None else set(graph.materializable_asset_keys)
    group_of, group_of_step = {}, {}
    for assets_def in graph.assets_defs:
        groups = {k: g for k, g in assets_def.group_names_by_key.items() if k in wanted}
        if not groups:
            continue
        group_of.update({k.to_user_string(): g for k, g in groups.items()})
        if assets_def.is_executable and assets_def.node_def is not None:
            group_of_step[assets_def.node_def.name] = max(set(groups.values()), key=list(groups.values()).count)
    return RunProgress(run_id, log_path_for(run_id), group_of, group_of_step)


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

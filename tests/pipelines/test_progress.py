"""The run's own logger: every event of every asset goes to $CRM_HOME/logs/pipeline-<run_id>.log, none to the
console, and the progress callback follows steps, assets, rows, groups and failures."""

from __future__ import annotations

import uuid

from dagster import DagsterInstance, Definitions, MaterializeResult, asset

from pipelines.lib.progress import LOGGER_NAME, RunProgress, log_path_for, progress_logger
from pipelines.run import run_pipeline


def test_every_asset_of_a_run_reaches_the_callback_and_the_log_file(capfd):
    seen: list[tuple[list[str], str | None, bool]] = []
    result = run_pipeline("key:landing_activities or key:text_sentiment",
                          progress=lambda p: seen.append((list(p.done), p.running, p.finished)))
    assert result.success
    done, running, finished = seen[-1]
    assert sorted(done) == ["landing_activities", "text_sentiment"] and running is None and finished
    assert {"landing_activities", "text_sentiment"} <= {r for _, r, _ in seen}  # each step was seen running
    log = log_path_for(result.run_id).read_text()
    for step in ("landing_activities", "text_sentiment"):
        for event in ("STEP_START", "ASSET_MATERIALIZATION", "STEP_SUCCESS"):
            assert f"{step} - {event}" in log, (step, event)
    assert "DEBUG" in log and result.run_id in log
    console = capfd.readouterr()
    assert "STEP_START" not in console.out + console.err  # Dagster's console stream is silenced


@asset(group_name="first")
def counted() -> MaterializeResult:
    return MaterializeResult(metadata={"rows": 5, "tenants": 2})


@asset(group_name="second", deps=[counted])
def broken() -> None:
    raise RuntimeError("the widgets table is missing\nsecond line of detail")


def test_failures_rows_and_finished_groups_are_followed(tmp_path):
    run_id = str(uuid.uuid4())
    state = RunProgress(run_id, tmp_path / "run.log", {"counted": "first", "broken": "second"},
                        {"counted": "first", "broken": "second"})
    calls: list[str | None] = []
    logger_def, handler = progress_logger(state, lambda p: calls.append(p.current_group))
    defs = Definitions(assets=[counted, broken], loggers={LOGGER_NAME: logger_def})
    job = defs.resolve_implicit_global_asset_job_def()
    try:
        result = job.execute_in_process(run_config={"loggers": {LOGGER_NAME: {}}}, raise_on_error=False,
                                        run_id=run_id, instance=DagsterInstance.ephemeral())
    finally:
        handler.close()
    assert not result.success
    assert state.done == ["counted"] and state.rows == 5  # rows counted, tenants not
    assert state.failures == ["broken: RuntimeError: the widgets table is missing"]
    assert state.groups_complete() == ["first"] and state.finished and state.total == 2
    assert "first" in calls and "second" in calls
    log = (tmp_path / "run.log").read_text()
    assert "broken - STEP_FAILURE" in log and "second line of detail" in log  # the full error is in the file

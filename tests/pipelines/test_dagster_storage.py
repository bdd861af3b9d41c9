"""The project's Dagster storage (dagster.yaml -> `CrmSqliteStorage`) keeps the event log's engines, and what
it writes is Dagster's own SQLite layout: a plain `SqliteEventLogStorage` on the same folder reads every event
back, the kept engines stay bounded however many runs there are, and a wipe closes the run files' engines
with the files."""

from __future__ import annotations

import shutil

from dagster import DagsterInstance, asset, materialize
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.lib import dagster_storage
from pipelines.lib.dagster_storage import KEPT_ENGINES, KeptEngineEventLogStorage
from pipelines.lib.instance import REPO_DAGSTER_YAML


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset
def total(numbers: list[int]) -> int:
    return sum(numbers)


def _instance(home) -> DagsterInstance:
    shutil.copyfile(REPO_DAGSTER_YAML, home / "dagster.yaml")
    return DagsterInstance.from_config(str(home))


def test_the_projects_instance_stores_runs_any_dagster_reader_can_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with _instance(tmp_path) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, KeptEngineEventLogStorage)
        runs = []
        for _ in range(KEPT_ENGINES + 3):   # more runs than engines kept
            result = materialize([numbers, total], instance=instance)
            assert result.success and result.output_for_node("total") == 6
            runs.append(result.run_id)
            assert len(storage._engines) <= KEPT_ENGINES
        kept_counts = {run_id: len(instance.all_logs(run_id)) for run_id in runs}
        materialized = instance.get_latest_materialization_event(numbers.key)
        assert materialized is not None and materialized.run_id == runs[-1]

    # Dagster's own storage class on the same folder: the same events, every run
    plain = SqliteEventLogStorage(str(tmp_path / "history" / "runs"))
    try:
        assert {run_id: len(plain.get_logs_for_run(run_id)) for run_id in runs} == kept_counts
        assert all(count > 5 for count in kept_counts.values())
    finally:
        plain.dispose()


def test_a_wipe_closes_the_kept_engines_and_the_next_run_starts_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with _instance(tmp_path) as instance:
        storage = instance.event_log_storage
        first = materialize([numbers, total], instance=instance).run_id
        assert storage._engines
        assert first in storage._engines
        instance.wipe()
        assert set(storage._engines) <= {"index"}   # the wipe empties the index through a new connection
        assert not (tmp_path / "history" / "runs" / f"{first}.db").exists() and not instance.all_logs(first)
        second = materialize([numbers, total], instance=instance)
        assert second.success and len(instance.all_logs(second.run_id)) > 5
    assert not storage._engines   # disposed with the instance
    assert dagster_storage.CrmSqliteStorage.__name__ in (tmp_path / "dagster.yaml").read_text()

"""How far an in-process run is: a Dagster logger that writes every event to a log file and keeps a
`RunProgress` (assets done of total, the step running, rows, failures) for a callback to show.

Given as the run's only configured logger, it also replaces Dagster's console logger, so a terminal shows
what the caller renders from the progress instead of the DEBUG event stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterEventType, LoggerDefinition, logger

from crm.state import logs_dir

LOGGER_NAME = "crm_progress"
# metadata entries that count rows the asset wrote (the others count tenants, checks, skipped rows, ...)
ROW_METADATA = ("rows", "rows_loaded", "rows_upserted", "texts_scored")


@dataclass
class RunProgress:
    run_id: str
    log_path: Path
    group_of: dict[str, str]  # selected asset key -> its group
    group_of_step: dict[str, str]  # step (op) name -> the group of its assets
    done: list[str] = field(default_factory=list)  # asset keys, in the order they were materialized
    running: str | None = None  # the step that started last and has not finished
    rows: int = 0
    failures: list[str] = field(default_factory=list)  # "step: first line of the error"
    finished: bool = False

    @property
    def total(self) -> int:
        return len(self.group_of)

    @property
    def current_group(self) -> str | None:
        return self.group_of_step.get(self.running) if self.running else None

    def groups_complete(self) -> list[str]:
        """Groups whose every selected asset has been materialized, in the order they completed."""
        left: dict[str, int] = {}
        for group in self.group_of.values():
            left[group] = left.get(group, 0) + 1
        complete = []
        for key in self.done:
            group = self.group_of.get(key)
            if group is None:
                continue
            left[group] -= 1
            if left[group] == 0:
                complete.append(group)
        return complete


ProgressCallback = Callable[[RunProgress], None]


def error_line(error) -> str:
    """The first line of what went wrong: the user code's own exception, not Dagster's wrapper around it."""
    while error.cause is not None:
        error = error.cause
    lines = str(error.message).strip().splitlines()
    return lines[0] if lines else error.cls_name


def log_path_for(run_id: str) -> Path:
    return logs_dir() / f"pipeline-{run_id}.log"


class _ProgressHandler(logging.Handler):
    """Follows the Dagster events of one run; every record (events and asset logs) goes to the file."""

    def __init__(self, progress: RunProgress, callback: ProgressCallback | None):
        super().__init__(level=logging.DEBUG)
        progress.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.progress, self.callback = progress, callback
        self.file = logging.FileHandler(progress.log_path, encoding="utf-8")
        self.file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.file.emit(record)
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is None or not self._follow(event):
            return
        if self.callback is not None:
            self.callback(self.progress)

    def _follow(self, event) -> bool:
        p, kind = self.progress, event.event_type
        if kind == DagsterEventType.STEP_START:
            p.running = event.step_key
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            p.done.append(event.asset_key.to_user_string())
            metadata = event.event_specific_data.materialization.metadata
            p.rows += sum(int(metadata[k].value) for k in ROW_METADATA if k in metadata)
        elif kind == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            p.failures.append(f"{event.step_key}: {error_line(error) if error else 'failed'}")
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_SKIPPED):
            if p.running == event.step_key:
                p.running = None
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            p.running, p.finished = None, True
        else:
            return False
        return True

    def close(self) -> None:
        self.file.close()
        super().close()


def progress_logger(progress: RunProgress,
                    callback: ProgressCallback | None) -> tuple[LoggerDefinition, _ProgressHandler]:
    """The logger definition to give the job (configure it under `loggers: {crm_progress: {}}`), and its
    handler, which the caller closes after the run."""
    handler = _ProgressHandler(progress, callback)

    @logger(description="Every event at DEBUG into $CRM_HOME/logs/pipeline-<run_id>.log; progress to a callback")
    def crm_progress(_init_context) -> logging.Logger:
        log = logging.Logger(LOGGER_NAME, level=logging.DEBUG)
        log.addHandler(handler)
        return log

    return crm_progress, handler

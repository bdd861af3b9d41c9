"""A pipeline run on the terminal: a rich bar over the assets (done/total, the step running, rows written),
one line per finished asset group and one per failure; Dagster's full event stream goes to the run's log
file under $CRM_HOME/logs, whose path is printed when something fails."""

from __future__ import annotations

import contextlib
import io
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# what each asset group is doing, in words for people watching a run
GROUP_WORDS = {"ingest": "extracting data", "transform": "building features (dbt)",
               "ml": "training models and scoring", "publish": "publishing analytics",
               "serving": "indexing texts for insights"}


@dataclass
class PipelineOutcome:
    result: object  # dagster ExecuteInProcessResult
    log_path: Path
    seconds: float
    failures: list[str]

    @property
    def success(self) -> bool:
        return bool(self.result.success)


def group_words(group: str | None) -> str:
    return GROUP_WORDS.get(group or "", group or "starting")


def run_with_progress(console: Console, select: str | None = None, run_config: dict | None = None,
                      on_progress: Callable | None = None) -> PipelineOutcome:
    """Run the pipeline in-process (see pipelines.run.run_pipeline) behind a progress bar on `console`;
    `on_progress(RunProgress)` is also told of each step, asset and failure (the demo's set-up status)."""
    from pipelines.lib.progress import error_line, log_path_for
    from pipelines.run import run_pipeline

    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("assets"),
               TextColumn("{task.fields[rows]}"), TimeElapsedColumn())
    printed_groups: set[str] = set()
    printed_failures = 0
    # the bar and its lines go to the terminal as it is now; what libraries print during the run goes to the log
    bar_console = Console(file=console.file, force_terminal=console.is_terminal, width=console.width)
    stray = io.StringIO()
    with Progress(*columns, console=bar_console, transient=True, redirect_stdout=False,
                  redirect_stderr=False) as progress:
        task = progress.add_task("pipeline: starting", total=None, rows="")

        def follow(p) -> None:
            nonlocal printed_failures
            rows = f"{p.rows:,} rows" if p.rows else ""
            running = f" [dim]{p.running}[/dim]" if p.running else ""
            progress.update(task, completed=len(p.done), total=p.total, rows=rows,
                            description=f"pipeline: {group_words(p.current_group)}{running}")
            for group in p.groups_complete():
                if group not in printed_groups:
                    printed_groups.add(group)
                    n = sum(1 for g in p.group_of.values() if g == group)
                    progress.console.print(f"  [green]✓[/green] {group}: {n} assets ({group_words(group)}) "
                                           f"after {time.perf_counter() - started:.0f}s")
            for failure in p.failures[printed_failures:]:
                progress.console.print(f"  [red]✗[/red] {failure}", highlight=False)
            printed_failures = len(p.failures)
            if on_progress is not None:
                on_progress(p)

        try:
            with _signals_seen() as signalled, contextlib.redirect_stdout(stray), contextlib.redirect_stderr(stray):
                result = run_pipeline(select, raise_on_error=False, run_config=run_config, progress=follow)
                interrupted = signalled()
        except BaseException:
            bar_console.print(stray.getvalue(), markup=False, highlight=False)
            raise
    log_path = log_path_for(result.run_id)
    if stray.getvalue():  # MLflow's registry messages, library warnings: kept with the run's events
        with log_path.open("a", encoding="utf-8") as f:
            f.write("\n--- printed during the run ---\n" + stray.getvalue())
    errors = [(e.step_key, e.event_specific_data.error) for e in result.all_events
              if e.is_step_failure and e.event_specific_data.error]
    if interrupted or any(_interrupted(error) for _, error in errors):
        # Dagster turns Ctrl-C / SIGTERM during a step into a failed step; the caller should stop, not go on
        raise KeyboardInterrupt(f"pipeline run {result.run_id} interrupted; its log: {log_path}")
    failures = [f"{step}: {error_line(error)}" for step, error in errors]
    return PipelineOutcome(result, log_path, time.perf_counter() - started, failures)


def _interrupted(error) -> bool:
    while error is not None:
        if error.cls_name == "DagsterExecutionInterruptedError":
            return True
        error = error.cause
    return False


@contextlib.contextmanager
def _signals_seen():
    """Whether SIGINT/SIGTERM arrived during the run. Dagster swallows them while it runs (the step fails,
    sometimes as the library's own error, e.g. DuckDB's "Query interrupted", and the run returns); the
    wakeup fd hears every signal whatever Python handler is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    received: set[int] = set()

    def signalled() -> bool:
        with contextlib.suppress(BlockingIOError):
            received.update(reader.recv(256))
        return bool(received & {signal.SIGINT, signal.SIGTERM})

    try:
        yield signalled
    finally:
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()

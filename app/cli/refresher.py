"""`crm refresher`: keep scores, reasons, sentiment and the insight index in step with every write.

Long-running: `crm serve` starts it as a child process (`start_child`; stopped with
`app.cli.children.stop_child`) and it also exits when that parent is gone, however the parent died.
`--once` drains the queues and exits (scripts, benches). Its log goes to stderr and to
$CRM_HOME/logs/refresher.log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from typing import Annotated

import typer

from app.cli.children import start_command, stop_when_orphaned
from app.cli.output import emit_json, log_to_file_and_stderr

PARENT_CHECK_SECONDS = 1.0


def refresher(
    once: Annotated[bool, typer.Option("--once", help="Drain the queues once, print a JSON summary, exit")] = False,
    poll_seconds: Annotated[float, typer.Option(help="Look for work at least this often (writes wake it at once)")]
    = 5.0,
    parent_pid: Annotated[int | None, typer.Option(hidden=True, help="Exit when this parent process is gone")] = None,
) -> None:
    """Refresh features, scores and reasons of what each write touched, and index new notes and activities."""
    from crm.db.embedded import stop_on_sigterm
    from crm.db.engine import name_connections
    from crm.db.migrate import migrate
    from crm.state import ensure_home
    from pipelines.lib.live_report import LiveReporter
    from pipelines.lib.live_sql import feature_queries
    from serving.live.worker import Refresher

    name_connections("refresher")
    stop_on_sigterm()
    ensure_home()
    migrate()
    log_path = log_to_file_and_stderr("refresher")
    log = logging.getLogger("crm.refresher")
    log.info("loading the live feature SQL compiled from the dbt marts (the first time compiles it, ~15 s)")
    queries = feature_queries()
    _one_core_for_embedding()
    reporter = LiveReporter()
    worker = Refresher(queries, poll_seconds=poll_seconds, on_report=reporter)
    try:
        if once:
            emit_json(worker.drain())
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())   # from here on SIGTERM stops the lanes
        if parent_pid is not None:
            threading.Thread(target=stop_when_orphaned, daemon=True, name="refresher-parent-watch",
                             args=(parent_pid, stop, lambda: log.info("parent %d is gone: stopping", parent_pid)),
                             kwargs={"check_seconds": PARENT_CHECK_SECONDS}).start()
        log.info("refresher running (lanes: %s); log: %s", ", ".join(worker.lanes()), log_path)
        stopped = worker.run(stop)
        log.info("refresher stopped")
    finally:
        reporter.close()
    if not stopped:
        _exit_without_shutdown()


def _exit_without_shutdown() -> None:
    """A lane still inside native code (torch) would abort the interpreter's shutdown ("terminate called
    without an active exception", exit -6): release what a normal exit releases, then leave at once."""
    from crm.db.embedded import release_embedded_servers
    from crm.db.engine import dispose_engines

    dispose_engines()
    release_embedded_servers()
    logging.shutdown()
    os._exit(0)


def _one_core_for_embedding() -> None:
    # torch embeds on every core by default: a first run's index backlog (minutes of embedding) would then
    # starve the score lane and the web server beside it. One thread keeps the other core for them.
    import torch

    torch.set_num_threads(1)


def start_child() -> subprocess.Popen:
    """`crm refresher` as a child of this process, exiting when this process does."""
    return start_command("refresher")

"""`crm workflows`: the workflow worker (events -> runs and webhook deliveries, runs, deliveries).

Long-running: `crm serve` starts it as a child beside the refresher (`start_child`; stopped with
`app.cli.children.stop_child`), and it exits when that parent is gone. SIGTERM lets each lane finish its step,
then the process exits normally (which detaches it from the embedded PostgreSQL). `--once` does what is due
now and prints a JSON summary. Its log goes to stderr and to $CRM_HOME/logs/workflows.log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from typing import Annotated

import typer

from app.cli.output import emit_json, log_to_file_and_stderr

LOG = "crm.workflows"


def workflows(
    once: Annotated[bool, typer.Option("--once", help="Dispatch every waiting event, scan once, take every due "
                                       "run forward and attempt every due delivery; print a JSON summary, exit")]
    = False,
    poll_seconds: Annotated[float, typer.Option(help="Look for due runs and deliveries at least this often "
                                                "(events and new runs wake it at once)")] = 2.0,
    scan_seconds: Annotated[float, typer.Option(help="Scan for inactivity and schedule triggers this often")]
    = 60.0,
    run_threads: Annotated[int, typer.Option(min=1, help="Runs executed at once (each waits on PostgreSQL "
                                             "most of the time)")] = 4,
    parent_pid: Annotated[int | None, typer.Option(hidden=True, help="Exit when this parent process is gone")] = None,
) -> None:
    """Start workflow runs from record events, AI signals, quiet records and schedules; run them; send webhooks."""
    from app.cli.children import stop_when_orphaned
    from crm.db.embedded import stop_on_sigterm
    from crm.db.engine import name_connections
    from crm.db.migrate import migrate
    from crm.state import ensure_home
    from serving.workflows.worker import WorkflowWorker

    name_connections("workflows")
    stop_on_sigterm()   # until the lanes run, SIGTERM is a normal exit (pgserver detaches on it)
    ensure_home()
    migrate()
    log_path = log_to_file_and_stderr("workflows")
    log = logging.getLogger(LOG)
    worker = WorkflowWorker(poll_seconds=poll_seconds, scan_seconds=scan_seconds, run_threads=run_threads)
    log.info("loading the workflow engine")
    import serving.workflows.runner  # noqa: F401  (now, not when the first event is waiting: seconds of imports)
    if once:
        emit_json(worker.drain())
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())   # from here on SIGTERM stops the lanes after their step
    if parent_pid is not None:
        threading.Thread(target=stop_when_orphaned, name="workflows-parent-watch", daemon=True,
                         args=(parent_pid, stop, lambda: log.info("parent %d is gone: stopping", parent_pid))).start()
    log.info("workflow worker %d running (lanes: %s); log: %s", os.getpid(), ", ".join(worker.lanes()), log_path)
    stopped = worker.run(stop)
    log.info("workflow worker stopped: %s", worker.totals.summary())
    if not stopped:
        _exit_now()


def _exit_now() -> None:
    """A lane stuck past the grace (a webhook or a model call that ignores its timeout): detach from PostgreSQL
    as a normal exit would, then leave without waiting for it."""
    from crm.db.embedded import release_embedded_servers
    from crm.db.engine import dispose_engines

    dispose_engines()
    release_embedded_servers()
    logging.shutdown()
    os._exit(0)


def start_child() -> subprocess.Popen:
    """`crm workflows` as a child of this process, exiting when this process does."""
    from app.cli.children import start_command

    return start_command("workflows")

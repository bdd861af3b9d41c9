"""`crm serve`: the API and the dashboard, in N worker processes (default: one per core), the refresher and the
workflow worker (`crm workflows`).

Workers share nothing but PostgreSQL: rate limits, login lockout and sessions live there, so any worker
may answer any request. Each worker has its own pools; /metrics adds them up (Prometheus multiprocess files
under $CRM_HOME/metrics/port-<port>, emptied here before the workers start).
"""

import os
import resource
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: one per core)", min=1)] = None,
    no_refresher: Annotated[bool, typer.Option("--no-refresher", help="Do not start `crm refresher` beside the "
                                               "server (scores then move only when the pipeline runs)")] = False,
    no_workflows: Annotated[bool, typer.Option("--no-workflows", help="Do not start `crm workflows` beside the "
                                               "server (no workflow runs, no webhook deliveries)")] = False,
) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the dashboard (/), with the live refresher and the workflow
    worker beside it."""
    import uvicorn

    from api.observability.access_log import uvicorn_log_config
    from api.observability.multiprocess import metrics_dir, prepare_multiprocess
    from app.cli.children import stop_child
    from app.cli.refresher import start_child
    from app.cli.workflows import start_child as start_workflows
    from crm.db.embedded import stop_on_sigterm
    from crm.db.engine import name_connections
    from crm.db.migrate import migrate
    from crm.settings import get_settings
    from crm.state import ensure_home

    stop_on_sigterm()
    ensure_home()
    migrate()
    workers = workers or os.cpu_count() or 1
    _open_file_limit()
    # before any worker imports the app: its metrics then write to files every worker's /metrics adds up
    prepare_multiprocess(metrics_dir(get_settings().home, port))
    typer.echo(f"Intelligence CRM on http://{host}:{port}  (API docs: http://{host}:{port}/docs), "
               f"{workers} worker(s)", err=True)
    child = None if no_refresher else start_child()
    worker = None if no_workflows else start_workflows()
    name_connections("api")   # the workers' connections; the children name their own
    try:
        # deadlines for slow clients' headers and bodies (uvicorn alone bounds only keep-alive idleness);
        # one JSON access line per request from the app (api.observability) instead of uvicorn's
        uvicorn.run("app.cli.worker_app:app", host=host, port=port, workers=workers, log_config=uvicorn_log_config(),
                    access_log=False, http="app.cli.http_protocol:SlowClientGuard", backlog=4096,
                    timeout_keep_alive=KEEP_ALIVE_SECONDS)
    finally:
        stop_child(worker)
        stop_child(child)


# A crowd of users keeps its connections open between requests seconds apart: closing them after uvicorn's
# default 5 s makes every user reconnect for most requests.
KEEP_ALIVE_SECONDS = 75


def _open_file_limit() -> None:
    """Every kept-alive client holds a file descriptor: raise the soft limit to the hard one (10,000 idle
    connections must not exhaust a default of 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

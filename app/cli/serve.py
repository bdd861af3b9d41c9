"""`crm serve`: the API and the dashboard in one process."""

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    no_refresher: Annotated[bool, typer.Option("--no-refresher", help="Do not start `crm refresher` beside the "
                                               "server (scores then move only when the pipeline runs)")] = False,
) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the dashboard (/), with the live refresher beside it."""
    import uvicorn

    from app.cli.children import stop_child
    from app.cli.refresher import start_child
    from crm.db.embedded import stop_on_sigterm
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    stop_on_sigterm()
    ensure_home()
    migrate()
    typer.echo(f"Intelligence CRM on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", err=True)
    child = None if no_refresher else start_child()
    try:
        # deadlines for slow clients' headers and bodies (uvicorn alone bounds only keep-alive idleness)
        uvicorn.run("app.web:app", host=host, port=port, workers=workers, log_level="info",
                    http="app.cli.http_protocol:SlowClientGuard")
    finally:
        stop_child(child)

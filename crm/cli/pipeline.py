"""`crm pipeline run`. (Being built: issue 4.)"""

import typer

pipeline_app = typer.Typer(help="Run the data pipeline (Dagster assets) in-process.", no_args_is_help=True)


@pipeline_app.command("run")
def run() -> None:
    """Materialize the Dagster assets in-process."""
    raise typer.Exit("crm pipeline run is not built yet")

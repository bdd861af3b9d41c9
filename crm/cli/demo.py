"""`crm demo`: seed demo tenants, run the pipeline, serve. (Being built: issue 3.)"""

import typer


def demo() -> None:
    """Seed demo tenants with realistic agency data, run the pipeline and serve."""
    raise typer.Exit("crm demo is not built yet")

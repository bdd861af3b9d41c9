"""`crm import ENTITY FILE.csv --tenant ID`. (Being built: issue 2.)"""

import typer


def import_file() -> None:
    """Import a CSV file of companies, contacts, deals or activities into a tenant."""
    raise typer.Exit("crm import is not built yet")

"""`crm import ENTITY FILE.csv --tenant ID`: the CSV import of the API, from the command line."""

from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import emit_json, err, fail


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, sep, field = pair.rpartition("=")
        if not sep or not header or not field:
            fail(f"--map takes 'File header=field', not {pair!r}")
        mapping[header] = field
    return mapping


def import_file(
    entity: Annotated[str, typer.Argument(help="companies | contacts | deals | activities")],
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8) with a header line",
                                         exists=True, dir_okay=False, readable=True)],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id")],
    map_: Annotated[list[str] | None, typer.Option("--map", help="'File header=field' (repeatable)")] = None,
) -> None:
    """Import a CSV file of companies, contacts, deals or activities into a tenant, all rows or none.

    Prints the report as JSON; on a bad row nothing is imported, the errors go to stderr and the exit
    code is 1.
    """
    from app.cli.tenants import _db_ready
    from crm.imports import ImportRequestError, import_csv
    from crm.services.actor import Actor

    mapping = _parse_map(map_ or [])
    _db_ready()
    try:
        report = import_csv(tenant, entity, file.read_bytes(), mapping or None, Actor("import", None, file.name))
    except ImportRequestError as exc:
        fail(str(exc))
    emit_json(report.to_dict())
    if not report.ok:
        for e in report.errors:
            where = f"line {e.row}" if e.row else "file"
            err.print(f"[red]{where}[/red]" + (f", column {e.column!r}" if e.column else "") + f": {e.reason}")
        fail(f"nothing was imported from {file}: fix the rows above and run the import again")
    ignored = f"; ignored columns: {', '.join(report.ignored_columns)}" if report.ignored_columns else ""
    err.print(f"imported {file}: {report.created} created, {report.updated} updated ({report.rows} rows{ignored})")

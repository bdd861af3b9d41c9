"""What the CLI prints: machine-readable JSON on stdout, people's messages on stderr."""

import json
import sys

import typer
from rich.console import Console

err = Console(stderr=True)


def emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)

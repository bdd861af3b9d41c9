"""What the CLI prints: machine-readable JSON on stdout, people's messages on stderr."""

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

err = Console(stderr=True)


def emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def log_to_file_and_stderr(name: str) -> Path:
    """A long-running command's log: INFO and up to stderr and to $CRM_HOME/logs/<name>.log (returned)."""
    import logging

    from crm.state import logs_dir

    path = logs_dir() / f"{name}.log"
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    root = logging.getLogger()
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path, encoding="utf-8")):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path

"""The DuckDB warehouse file: one writer at a time, so every user opens, works and closes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from crm.settings import get_settings


def warehouse_path() -> Path:
    return get_settings().warehouse_path


@contextmanager
def open_warehouse(path: Path | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(path or warehouse_path())
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()

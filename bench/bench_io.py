"""What the bench scripts share: keeping a noisy child's output (dbt writes to our stdout) in a log file, and the
command line of the benches that load a demo into their own CRM_HOME and measure on it."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


@contextlib.contextmanager
def quiet_fd(fd: int, path: Path):
    """Send what anything in this process (or its children) writes to `fd` into `path` meanwhile."""
    sys.stdout.flush()
    saved = os.dup(fd)
    with path.open("ab") as target:
        os.dup2(target.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, fd)
            os.close(saved)


def demo_bench_main(description: str, prefix: str, run: Callable[[str, Path, bool], None]) -> None:
    """`--size`, `--home`, `--keep`, `--reuse`; then `run(size, home, reuse)` in that CRM_HOME (a new one under /tmp
    by default, removed afterwards unless `--keep`) on its own embedded PostgreSQL and DuckDB warehouse."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--size", default="small", choices=["small", "medium", "large"])
    ap.add_argument("--home", type=Path, default=None, help="CRM_HOME to use (default: a new dir under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the CRM_HOME afterwards")
    ap.add_argument("--reuse", action="store_true",
                    help="--home already holds a loaded demo and a pipeline run: measure only")
    args = ap.parse_args()
    if args.reuse and args.home is None:
        ap.error("--reuse needs --home")
    home = args.home or Path(tempfile.mkdtemp(prefix=f"{prefix}-{args.size}-"))
    os.environ["CRM_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CRM_WAREHOUSE", None)   # the benches read the DuckDB warehouse of this CRM_HOME
    from crm.db.embedded import release_embedded_servers
    from crm.db.migrate import migrate
    from crm.settings import reset_settings
    from crm.state import ensure_home

    reset_settings()
    ensure_home()
    migrate()
    try:
        run(args.size, home, args.reuse)
    finally:
        reset_settings()
        release_embedded_servers()
        if not args.keep and args.home is None:
            shutil.rmtree(home, ignore_errors=True)

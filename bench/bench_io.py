"""What the bench scripts share: keeping a noisy child's output (dbt writes to our stdout) in a log file."""

from __future__ import annotations

import contextlib
import os
import sys
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

"""Metrics shared by `crm serve --workers N`: each worker writes its samples to files in one directory that
any worker's /metrics reads (prometheus_client's multiprocess mode).

Kept apart from `api.observability.metrics`, which creates the metrics: this must run before that module
is imported, in the process that starts the workers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir(home: Path, port: int) -> Path:
    """One directory per server (two servers may share a CRM_HOME on different ports)."""
    return home / "metrics" / f"port-{port}"


def prepare_multiprocess(directory: Path) -> None:
    """Empty `directory` (samples of a previous run would add to this one's counters) and point this
    process and the workers it starts at it. Call before the app (app.web) is imported."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[ENV] = str(directory)
    from prometheus_client import values

    # prometheus_client picks its value store when first imported: in case that was before the variable
    values.ValueClass = values.get_value_class()

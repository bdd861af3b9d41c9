"""How far `crm demo` is in setting up, in $CRM_HOME/setup_status.json: the demo writes it, the dashboard
reads it to say why scores are not there yet while the server already answers.

The file names the writing process; a status whose writer is gone (Ctrl-C, a crash) is no longer shown.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from crm.settings import get_settings

PHASES = ("loading", "pipeline", "ready", "failed")


@dataclass(frozen=True)
class SetupStatus:
    phase: str  # one of PHASES
    step: str  # what it is doing, in words: "loading agencies", "training models and scoring"
    done: int = 0
    total: int = 0
    unit: str = ""  # what done/total count: "agencies", "assets"
    pid: int = 0  # the process writing it

    @property
    def in_progress(self) -> bool:
        return self.phase in ("loading", "pipeline")

    def banner(self) -> str:
        if self.phase == "failed":
            return (f"Setting up the demo failed while {self.step}: scores may be missing or old. "
                    "Rerun `crm pipeline run` (its log is under $CRM_HOME/logs).")
        count = f" ({self.done}/{self.total} {self.unit})" if self.total else ""
        return f"Setting up the demo: {self.step}{count} - scores appear when it finishes"


def status_path() -> Path:
    return get_settings().home / "setup_status.json"


def write_setup_status(phase: str, step: str, done: int = 0, total: int = 0, unit: str = "") -> SetupStatus:
    """Replace the status file atomically (a reader sees the old or the new status, never half of one)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
    status = SetupStatus(phase, step, done, total, unit, os.getpid())
    path = status_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, path)
    return status


def read_setup_status() -> SetupStatus | None:
    """The status to show, or None: no demo is setting up (no file, ready, unreadable, or its writer exited)."""
    try:
        raw = json.loads(status_path().read_text())
        status = SetupStatus(**{k: raw[k] for k in SetupStatus.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if status.phase == "ready" or not _alive(status.pid):
        return None
    return status


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True

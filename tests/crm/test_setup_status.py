"""The demo's set-up status file: atomic writes, shown only while its writer lives and is not done."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crm.setup_status import read_setup_status, status_path, write_setup_status


@pytest.fixture
def clean_status():
    status_path().unlink(missing_ok=True)
    yield
    status_path().unlink(missing_ok=True)


def test_a_running_setup_is_read_back_with_its_banner(clean_status):
    assert read_setup_status() is None
    write_setup_status("pipeline", "training models and scoring", 41, 63, "assets")
    status = read_setup_status()
    assert status.in_progress and status.pid == os.getpid()
    assert status.banner() == ("Setting up the demo: training models and scoring (41/63 assets) - "
                               "scores appear when it finishes")
    assert [p.name for p in status_path().parent.glob(f".{status_path().name}*")] == []  # no temp file left
    write_setup_status("failed", "running the data pipeline")
    assert "failed" in read_setup_status().banner() and not read_setup_status().in_progress
    write_setup_status("ready", "running the data pipeline")
    assert read_setup_status() is None


def test_a_status_whose_writer_exited_is_not_shown(clean_status):
    code = "from crm.setup_status import write_setup_status; write_setup_status('loading', 'loading agencies', 1, 3)"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    assert status_path().exists() and read_setup_status() is None


def test_unreadable_or_unknown_statuses(clean_status):
    status_path().write_text("{not json")
    assert read_setup_status() is None
    status_path().write_text('{"phase": "loading"}')
    assert read_setup_status() is None
    with pytest.raises(ValueError, match="phase must be one of"):
        write_setup_status("almost", "x")

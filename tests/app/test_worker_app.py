"""What `crm serve`'s workers import (`app.cli.worker_app`): the app, with start-up's objects frozen out of the
cyclic garbage collector and the collector running seldom. In a process of its own: importing it here would
change this test process's collector."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = ("import gc, json; import app.cli.worker_app as w; "
         "print(json.dumps({'thresholds': gc.get_threshold(), 'frozen': gc.get_freeze_count(), "
         "'app': type(w.app).__name__}))")


def test_a_worker_freezes_start_up_and_collects_seldom(crm_home):
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CRM_HOME": str(crm_home)})
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["thresholds"] == [50_000, 20, 20] and probe["frozen"] > 100_000 and probe["app"] == "FastAPI"

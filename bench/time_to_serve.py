"""First-run time to serve: `crm demo --size SIZE` in a throwaway CRM_HOME, timed from launch to
/healthz 200, to a logged-in dashboard page answering (first agency's login), to the end of loading and to
set-up done (the pipeline finished, the dashboard's banner gone). Stops the demo at --until.

    .venv/bin/python bench/time_to_serve.py --size small
    .venv/bin/python bench/time_to_serve.py --size medium --until loaded
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

FIRST_LOGIN = re.compile(r"log in at\s+\S+\s+as\s+(\S+)\s+/\s+(\S+)")
MILESTONES = ("healthz", "dashboard", "loaded", "ready")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _phase(home: Path) -> str | None:
    try:
        return json.loads((home / "setup_status.json").read_text())["phase"]
    except (OSError, ValueError, KeyError):
        return None


def _dashboard_answers(url: str, log: Path) -> bool:
    found = FIRST_LOGIN.search(log.read_text())
    if not found:
        return False
    with httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"email": found[1], "password": found[2], "csrf_token": token})
        return r.status_code == 303 and client.get("/").status_code == 200


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small")
    parser.add_argument("--until", choices=MILESTONES, default="ready")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="crm-time-to-serve-"))
    port = _free_port()
    url, log = f"http://127.0.0.1:{port}", home / "demo.err"
    env = {**os.environ, "CRM_HOME": str(home / "home")}
    started = time.monotonic()
    with log.open("wb") as err:
        command = [sys.executable, "-m", "app.cli.main", "demo", "--size", args.size, "--port", str(port)]
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    checks = {"healthz": lambda: _healthy(url), "dashboard": lambda: _dashboard_answers(url, log),
              "loaded": lambda: _phase(home / "home") in ("pipeline", "ready", "failed"),
              "ready": lambda: "Set up in" in log.read_text()}
    seen: dict[str, float] = {}
    try:
        for milestone in MILESTONES[: MILESTONES.index(args.until) + 1]:
            while not checks[milestone]():
                if proc.poll() is not None or time.monotonic() - started > args.timeout:
                    raise SystemExit(f"demo stopped or timed out before {milestone}:\n{log.read_text()[-3000:]}")
                time.sleep(0.25)
            seen[milestone] = time.monotonic() - started
            print(f"{args.size}: {milestone:<10} {seen[milestone]:6.1f} s", flush=True)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=180)
    print(json.dumps({"size": args.size, "seconds": {k: round(v, 1) for k, v in seen.items()},
                      "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()

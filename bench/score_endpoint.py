"""Lead-score endpoint latency under concurrent clients, beside a bare FastAPI endpoint of the same shape.

Run after the demo has been built (models trained, leads scored):
    .venv/bin/crm demo --no-serve            # or make demo, once
    .venv/bin/python bench/score_endpoint.py [--home .crm] [--seconds 6] [--concurrency 16]

The real app (`app.web:app`, one uvicorn worker as `crm serve`) answers GET /api/v1/scores/leads/{id}:
API-key auth, an RLS-scoped read of the published score and its factors. `?fresh=true` re-scores with
the champion model from the latest features. The bare app returns fixed JSON of the same shape.
Retrieval latency is measured separately by bench/retrieval.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

# bench/ is first on sys.path when a bench script runs; no bench script is named like a package of the
# product (`api`, `serving`, ...), which it would hide from every other one
import bench_servers as srv
import wrk_runner

ROOT = Path(__file__).resolve().parent.parent


def scored_leads(home: Path) -> tuple[str, list[str]]:
    """The first demo tenant's API key and the contact ids that have a published lead score."""
    os.environ["CRM_HOME"] = str(home)
    from sqlalchemy import text

    from crm.db.engine import tenant_session

    creds = json.loads((home / "demo_credentials.json").read_text())
    for tenant in creds["tenants"]:
        with tenant_session(tenant["tenant_id"]) as s:
            ids = [str(r[0]) for r in s.execute(text(
                "select entity_id from scores where entity_type = 'lead' limit 5000"))]
        if ids:
            return tenant["api_key"], ids
    raise SystemExit(f"no lead scores under {home}: run `crm demo --no-serve` (or `crm pipeline run`) first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".crm")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    args = parser.parse_args()
    home = args.home.resolve()
    key, ids = scored_leads(home)
    env = {**os.environ, "CRM_HOME": str(home), "PYTHONPATH": str(ROOT)}
    app_port, bare_port = srv.free_port(), srv.free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    real = srv.start([*uvicorn, "app.web:app", "--port", str(app_port)], env, Path(os.devnull))
    bare = srv.start([*uvicorn, "bare_app:app", "--port", str(bare_port), "--app-dir", str(ROOT / "bench")], env,
                     Path(os.devnull))
    try:
        app_base, bare_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        srv.wait_up(f"{app_base}/healthz", real, timeout=180)
        srv.wait_up(f"{bare_base}/healthz", bare)
        rng = random.Random(7)
        sample = [rng.choice(ids) for _ in range(wrk_runner.MAX_ENTRIES)]
        scenarios = {
            "GET /scores/leads/{id}": [(f"/api/v1/scores/leads/{i}", key) for i in sample],
            "GET ...?fresh=true": [(f"/api/v1/scores/leads/{i}?fresh=true", key) for i in sample],
        }
        print(f"{len(ids)} scored leads; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
        header = (f"{'endpoint':<24}{'clients':>8} | {'API rps':>8}{'p50 ms':>8}{'p99 ms':>8} | "
                  f"{'bare rps':>9}{'p50 ms':>8}{'p99 ms':>8} | {'p99 ratio':>9}")
        print(header)
        print("-" * len(header))
        for name, entries in scenarios.items():
            for conc in args.concurrency:
                wrk_runner.run(app_base, entries, conc, 1)   # warm-up: connections, caches, pool
                a = wrk_runner.run(app_base, entries, conc, args.seconds)
                b = wrk_runner.run(bare_base, entries, conc, args.seconds)
                errors = a["non_2xx"] + a["socket_errors"]
                flag = f"  ({errors} API errors)" if errors else ""
                print(f"{name:<24}{conc:>8} | {a['rps']:>8.0f}{a['p50']:>8.1f}{a['p99']:>8.1f} | "
                      f"{b['rps']:>9.0f}{b['p50']:>8.1f}{b['p99']:>8.1f} | {a['p99'] / b['p99']:>8.2f}x{flag}",
                      flush=True)
    finally:
        for proc in (real, bare):
            srv.stop(proc)


if __name__ == "__main__":
    main()

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
from pathlib import Path

# bench/ is first on sys.path when a bench script runs; no bench script is named like a package of the
# product (`api`, `serving`, ...), which it would hide from every other one
from api_throughput import _free_port, _postgres_pids, _serve, _wait_up, measure

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
    app_port, bare_port = _free_port(), _free_port()
    real = _serve("app.web:app", app_port, env, ROOT)
    bare = _serve("bare_app:app", bare_port, env, ROOT / "bench")
    try:
        app_base, bare_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        _wait_up(f"{app_base}/healthz", real, timeout=180)
        _wait_up(f"{bare_base}/api/v1/contacts", bare)
        headers = {"Authorization": f"Bearer {key}"}
        rng = random.Random(7)
        scenarios = {
            "GET /scores/leads/{id}": lambda: (f"/api/v1/scores/leads/{rng.choice(ids)}", None),
            "GET ...?fresh=true": lambda: (f"/api/v1/scores/leads/{rng.choice(ids)}", {"fresh": "true"}),
        }
        print(f"{len(ids)} scored leads; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
        header = (f"{'endpoint':<24}{'clients':>8} | {'API rps':>8}{'p50 ms':>8}{'p95 ms':>8} | "
                  f"{'bare rps':>9}{'p50 ms':>8}{'p95 ms':>8} | {'p95 ratio':>9}")
        print(header)
        print("-" * len(header))
        for name, make in scenarios.items():
            for conc in args.concurrency:
                a = measure(app_base, headers, make, conc, args.seconds, lambda: [real.pid, *_postgres_pids(home)])
                b = measure(bare_base, headers, make, conc, args.seconds, lambda: [bare.pid])
                flag = f"  ({a['errors']} API errors)" if a["errors"] else ""
                print(f"{name:<24}{conc:>8} | {a['rps']:>8.0f}{a['p50']:>8.1f}{a['p95']:>8.1f} | "
                      f"{b['rps']:>9.0f}{b['p50']:>8.1f}{b['p95']:>8.1f} | {a['p95'] / b['p95']:>8.2f}x{flag}",
                      flush=True)
    finally:
        for proc in (real, bare):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except Exception:
                proc.kill()


if __name__ == "__main__":
    main()

"""REST API throughput and latency, with RLS on, beside a bare FastAPI JSON endpoint served the same way.

Run: .venv/bin/python bench/api_throughput.py [--contacts 2000] [--seconds 6] [--concurrency 16 64]

Both apps run under uvicorn (one worker, as `crm serve`) on 127.0.0.1 in their own processes; the real
one is `app.web:app` against the embedded PostgreSQL of a scratch CRM_HOME, authenticating each
request's API key and opening one RLS-scoped transaction per request. The load comes from one asyncio
process with httpx. On a 2-core machine client and server share the cores, so the bare endpoint's
figure is bounded by the client too: the ratio is the figure to read, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app: str, port: int, env: dict, app_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "30",
                             "--app-dir", str(app_dir)],
                            env=env, cwd=ROOT)


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {timeout:.0f} s")


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (Linux /proc); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(ppid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _postgres_pids(home: Path) -> list[int]:
    """The embedded server's postmaster and its backends: their CPU is part of each API request."""
    pid_file = home / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return []
    postmaster = int(pid_file.read_text().split()[0])
    return [postmaster, *_children(postmaster)]


def seed(n_contacts: int) -> tuple[dict, list[str]]:
    """A tenant with n contacts spread over 200 companies, written through the app role under RLS."""
    from crm.db.engine import tenant_session
    from crm.db.migrate import migrate
    from crm.db.models import Company, Contact
    from crm.state import ensure_home
    from crm.tenancy import create_tenant

    ensure_home()
    migrate()
    tenant = create_tenant("Bench Agency", f"bench-{uuid.uuid4().hex[:8]}@example.com")
    tid = uuid.UUID(tenant["tenant_id"])
    # a second tenant of the same size, so RLS filters real rows rather than an empty table
    other = uuid.UUID(create_tenant("Noise Agency", f"noise-{uuid.uuid4().hex[:8]}@example.com")["tenant_id"])
    ids: list[str] = []
    for t in (tid, other):
        with tenant_session(t) as s:
            companies = [Company(tenant_id=t, name=f"Company {i}", domain=f"c{i}.example.com") for i in range(200)]
            s.add_all(companies)
            s.flush()
            contacts = [Contact(tenant_id=t, email=f"person{i}@c{i % 200}.example.com", first_name=f"First{i}",
                                last_name=f"Last{i}", title="Marketing Manager", lead_source="webinar",
                                company_id=companies[i % 200].id) for i in range(n_contacts)]
            s.add_all(contacts)
            s.flush()
            if t == tid:
                ids = [str(c.id) for c in contacts]
    return tenant, ids


def list_cursors(base: str, headers: dict) -> list[str | None]:
    """Every page's cursor of the contact list, so list requests read pages from all over the table."""
    cursors: list[str | None] = [None]
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while True:
            params = {"limit": 50} | ({"cursor": cursors[-1]} if cursors[-1] else {})
            body = client.get("/api/v1/contacts", params=params).json()
            assert len(body["data"]) == 50 or body["next_cursor"] is None
            if not body["next_cursor"]:
                return cursors
            cursors.append(body["next_cursor"])


def measure(base: str, headers: dict, make_request, concurrency: int, seconds: float, server_pids) -> dict:
    """Run one load and charge the server-side CPU it used (app process + database) to each request."""
    pids = server_pids()
    before = sum(_cpu_seconds(p) for p in pids)
    result = asyncio.run(load(base, headers, make_request, concurrency, seconds))
    used = sum(_cpu_seconds(p) for p in pids) - before
    result["cpu_ms"] = used * 1000 / max(result["n_total"], 1)
    return result


async def load(base: str, headers: dict, make_request, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        async def worker(deadline: float) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                path, params = make_request()
                start = time.perf_counter()
                try:
                    r = await client.get(path, params=params)
                    ok = r.status_code == 200
                except httpx.TransportError:   # counted, not fatal: the figure says how many failed
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok
        warm = time.perf_counter() + 1.0   # warm-up: connections, caches, pool
        await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
        total = len(latencies)   # CPU is read around warm-up and measurement both
        latencies.clear()
        errors = 0
        start = time.perf_counter()
        await asyncio.gather(*(worker(start + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        total += len(latencies)
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50": q[49] * 1000, "p95": q[94] * 1000, "n": len(latencies),
            "errors": errors, "n_total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per scenario")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    # registered before PostgreSQL starts, so it runs after pgserver's own exit hook has stopped the server
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["CRM_HOME"] = str(home)
    env = {**os.environ, "CRM_HOME": str(home), "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    tenant, ids = seed(args.contacts)
    print(f"seeded {args.contacts} contacts (+ as many in a second tenant) in {time.perf_counter() - t0:.1f} s; "
          f"(scratch CRM_HOME {home}, removed at exit)", flush=True)

    app_port, bare_port = _free_port(), _free_port()
    real = _serve("app.web:app", app_port, env, ROOT)
    bare = _serve("bare_app:app", bare_port, env, ROOT / "bench")
    try:
        app_base, bare_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        _wait_up(f"{app_base}/healthz", real)
        _wait_up(f"{bare_base}/api/v1/contacts", bare)
        headers = {"Authorization": f"Bearer {tenant['api_key']}"}
        cursors = list_cursors(app_base, headers)
        rng = random.Random(7)
        scenarios = {
            "GET /contacts/{id}": lambda: (f"/api/v1/contacts/{rng.choice(ids)}", None),
            "GET /contacts?limit=50": lambda: ("/api/v1/contacts",
                                               {"limit": 50} | ({"cursor": c} if (c := rng.choice(cursors)) else {})),
        }
        print(f"\nload average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
              f"{args.seconds:.0f} s measured per row after 1 s warm-up\n")
        header = (f"{'endpoint':<24}{'clients':>8} | {'API rps':>8}{'p50 ms':>8}{'p95 ms':>8}{'cpu ms':>8} | "
                  f"{'bare rps':>9}{'p50 ms':>8}{'p95 ms':>8}{'cpu ms':>8} | {'rps ratio':>9}")
        print(header)
        print("-" * len(header))
        for name, make in scenarios.items():
            for conc in args.concurrency:
                a = measure(app_base, headers, make, conc, args.seconds, lambda: [real.pid, *_postgres_pids(home)])
                b = measure(bare_base, headers, make, conc, args.seconds, lambda: [bare.pid])
                failed = [f"{x['errors']} {who} failed" for who, x in (("API", a), ("bare", b)) if x["errors"]]
                flag = f"  ({', '.join(failed)} of {a['n']}/{b['n']})" if failed else ""
                print(f"{name:<24}{conc:>8} | {a['rps']:>8.0f}{a['p50']:>8.1f}{a['p95']:>8.1f}{a['cpu_ms']:>8.2f} | "
                      f"{b['rps']:>9.0f}{b['p50']:>8.1f}{b['p95']:>8.1f}{b['cpu_ms']:>8.2f} | "
                      f"{a['rps'] / b['rps']:>8.2f}x{flag}", flush=True)
        print("\nrps ratio = API requests/s divided by the bare endpoint's (1.00x would mean the CRM adds nothing).\n"
              "cpu ms = server CPU per request (API: uvicorn process + PostgreSQL backends; bare: its process),\n"
              "which other load on the machine distorts far less than requests/s.")
    finally:
        for proc in (real, bare):
            proc.terminate()
        for proc in (real, bare):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()

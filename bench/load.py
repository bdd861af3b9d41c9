"""The API at the product's scale, beside a bare endpoint served the same way, in one run on one machine.

Run: .venv/bin/python bench/load.py [--only table|kinds|crowd|fair|shed] [--kind K] [--seconds 60] [--connections 10000]
                                   [--rate 1000] [--workers 2] [--demo small|medium|large] [--table-connections 16 64]

In a scratch CRM_HOME (removed at exit) it seeds agencies (companies, contacts, deals, API keys, a published
lead score per contact), starts the real server exactly as users do (`crm serve --workers N`, live refresher
on) and the bare FastAPI app (bench/bare_app.py) under uvicorn with the same worker count (httptools, uvloop,
no access log), then:
  table  wrk, closed loop, at 16 and 64 connections: req/s, p50, p99, ratios to the bare endpoint of the same
         shape (a record by id; the page of 50 beside a bare page of 50 records), non-2xx
         answers and server CPU per request (app workers + PostgreSQL, from /proc). The per-key and per-tenant
         rate limits are lifted for the table only: it measures the hot path, not the limiter.
  crowd  bench/open_loop.py: 10,000 kept-alive connections offering 1,000 req/s in total at constant pacing
         (latency from each request's scheduled instant), 70% reads, 20% lead scores, 10% writes, spread over
         10 agencies x 10 keys, default rate limits on; the same crowd against the bare app as the baseline.
  kinds  each request kind of the crowd alone, open loop at a rate every server answers (--kind-rate), rate limits
         lifted: p95 and CPU per request split into the app's workers, PostgreSQL and the live refresher (the
         refresher's share counted until it has worked off what the kind's writes queued), then by part (each
         process role, PostgreSQL by connection name) over the same span. `--kind K` (repeatable) runs only
         those kinds. This is the crowd's budget by kind: 1,000 req/s on 2 cores leaves under 2 ms of CPU per
         request for everything.
  fair   agency A floods (wrk, one key, as fast as it can) while agency B offers a steady open-loop load:
         B's p95 alone and under the flood, and how A was answered (429s).
  shed   what an overloaded worker's refusal costs: one worker, its in-flight bound (CRM_MAX_IN_FLIGHT=1) held
         by a POST whose body never comes, reads by id offered open loop (--shed-rate over 1,000 connections):
         every one is answered 503; worker CPU per refusal beside the bare app's CPU per answered read, same
         rate and connections, one worker, in the same run.
Client and servers share the machine's cores; the load average is printed before each part.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import bench_servers as srv
import load_report as report
import open_loop
import wrk_runner
from load_mix import MIX, AgencyIds, CrowdMix, list_path
from load_seed import SIZES, Agency, read_cursors, seed

from app.cli.serve import KEEP_ALIVE_SECONDS

ROOT = Path(__file__).resolve().parent.parent
BARE_BY_ID = "bare JSON (GET /api/v1/contacts/{id})"
BARE_LIST = "bare JSON page (GET /api/v1/contacts?limit=50)"
UNLIMITED = {"CRM_RATE_KEY_PER_S": "1000000", "CRM_RATE_TENANT_PER_S": "1000000"}


class Servers:
    """The real server and the bare app of this run; everything they started is stopped at exit."""

    def __init__(self, home: Path, workers: int, keep_alive: float) -> None:
        self.home, self.workers, self.keep_alive = home, workers, keep_alive
        self.real = self.bare = None
        self.real_port = self.bare_port = 0

    def start_real(self, unlimited: bool, extra_env: dict[str, str] | None = None, workers: int | None = None) -> str:
        self.stop_real()
        env = {k: v for k, v in os.environ.items() if k not in UNLIMITED} | {"CRM_HOME": str(self.home)}
        env |= (UNLIMITED if unlimited else {}) | (extra_env or {})
        self.real_port = srv.free_port()
        self.real = srv.start([str(ROOT / ".venv/bin/crm"), "serve", "--port", str(self.real_port),
                               "--workers", str(workers or self.workers)], env, self.home / "logs" / "serve.log")
        srv.wait_up(f"{self.real_url}/healthz", self.real, timeout=180)
        return self.real_url

    def start_bare(self, workers: int | None = None) -> str:
        self.stop_bare()
        self.bare_port = srv.free_port()
        self.bare = srv.start([sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(ROOT / "bench"),
                               "--host", "127.0.0.1", "--port", str(self.bare_port), "--workers",
                               str(workers or self.workers),
                               "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
                               "--timeout-keep-alive", f"{self.keep_alive:g}"],
                              dict(os.environ), self.home / "logs" / "bare.log")
        srv.wait_up(f"{self.bare_url}/healthz", self.bare)
        return self.bare_url

    @property
    def real_url(self) -> str:
        return f"http://127.0.0.1:{self.real_port}"

    @property
    def bare_url(self) -> str:
        return f"http://127.0.0.1:{self.bare_port}"

    def real_cpu(self) -> srv.CpuSample:
        return srv.cpu_sample(self.real.pid, self.home)

    def bare_cpu(self) -> srv.CpuSample:
        return srv.cpu_sample(self.bare.pid, None)

    def stop_real(self) -> None:
        if self.real is not None:
            srv.stop(self.real)
            self.real = None

    def stop_bare(self) -> None:
        if self.bare is not None:
            srv.stop(self.bare)
            self.bare = None

    def stop(self) -> None:
        self.stop_real()
        self.stop_bare()


def table_entries(agencies: list[Agency], rng: random.Random) -> dict[str, list[tuple[str, str | None]]]:
    def sample(make) -> list[tuple[str, str | None]]:
        out = []
        for _ in range(wrk_runner.MAX_ENTRIES):
            a = rng.choice(agencies)
            out.append((make(a), rng.choice(a.keys)))
        return out

    return {
        "GET /api/v1/contacts/{id}": sample(lambda a: f"/api/v1/contacts/{rng.choice(a.contacts)}"),
        "GET /api/v1/contacts?limit=50": sample(lambda a: list_path(rng.choice(a.cursors))),
        "GET /api/v1/scores/leads/{id}": sample(lambda a: f"/api/v1/scores/leads/{rng.choice(a.contacts)}"),
        "GET /healthz": [("/healthz", None)],
    }


IDLE_SECONDS = 2.0


def measure_wrk(url: str, entries, connections: int, seconds: float, warmup: float, cpu) -> dict:
    """wrk's figures, and the server's CPU per request net of what it burns with no request at all (the live
    refresher's and workflow worker's polling, PostgreSQL's background work), read over IDLE_SECONDS before."""
    wrk_runner.run(url, entries, connections, warmup)
    time.sleep(0.2)   # the warm-up's last answers
    idle_from, t_idle = cpu(), time.monotonic()
    time.sleep(IDLE_SECONDS)
    idle = cpu() - idle_from
    idle_rate = (idle.app + idle.postgres) / (time.monotonic() - t_idle)
    before, t = cpu(), time.monotonic()
    result = wrk_runner.run(url, entries, connections, seconds)
    used, took = cpu() - before, time.monotonic() - t
    n = max(result["requests"], 1)
    return result | {"cpu_ms": max(0.0, used.app + used.postgres - idle_rate * took) * 1000 / n,
                     "refresher_ms": used.refresher * 1000 / n, "idle_cores": idle_rate}


def wait_for_refresher(timeout: float, quiet: bool = False) -> None:
    """Let the live refresher work off what seeding queued (a re-score of every seeded contact and company)
    before measuring: its backlog would take the cores from whichever server is measured first. What the load's
    own writes queue is the product's cost and stays in the figures."""
    from crm.live_queue import total_depth

    t = time.monotonic()
    while True:
        depth = total_depth()
        if not any(depth.values()):
            if not quiet:
                print(f"live queues empty after {time.monotonic() - t:.0f} s: measuring", flush=True)
            return
        if time.monotonic() - t > timeout:
            print(f"live queues still hold {depth} after {timeout:g} s: measuring anyway", flush=True)
            return
        time.sleep(2)


def run_table(servers: Servers, agencies: list[Agency], args) -> list[dict]:
    report.part(f"table: wrk, closed loop, {args.table_seconds:g} s per row after {args.warmup_table:g} s warm-up; "
                "per-key and per-tenant rate limits lifted (CRM_RATE_KEY_PER_S / CRM_RATE_TENANT_PER_S = 1e6); "
                f"CPU per request net of the server's idle CPU (measured {IDLE_SECONDS:g} s before each row)")
    entries = table_entries(agencies, random.Random(7))
    # each row beside the bare endpoint of its own shape: a page of 50 beside a bare page of 50 records
    # (bench/bare_app.py), everything else beside the bare record by id
    bare_of = {name: BARE_BY_ID for name in entries} | {"GET /api/v1/contacts?limit=50": BARE_LIST}
    bare_entries = {BARE_BY_ID: [(path, None) for path, _ in entries["GET /api/v1/contacts/{id}"]],
                    BARE_LIST: [(path, None) for path, _ in entries["GET /api/v1/contacts?limit=50"]]}
    print(f"baselines: '{BARE_BY_ID}' for reads by id, scores and /healthz; '{BARE_LIST}' (the same 50-record "
          "JSON shape, no database) for the page of 50", flush=True)
    rows = []
    report.table_header()
    for conns in args.table_connections:
        bares = {}
        for bare_name, bare_ent in bare_entries.items():
            bares[bare_name] = bare = measure_wrk(servers.bare_url, bare_ent, conns, args.table_seconds,
                                                  args.warmup_table, servers.bare_cpu)
            rows.append(report.table_row(bare_name, conns, bare, bare))
        for name, ent in entries.items():
            real = measure_wrk(servers.real_url, ent, conns, args.table_seconds, args.warmup_table, servers.real_cpu)
            rows.append(report.table_row(name, conns, real, bares[bare_of[name]], bare_of[name]))
    return rows


def run_crowd(url: str, agencies: list[Agency], args, cpu, label: str) -> dict:
    mix = CrowdMix(tuple(AgencyIds.of(a) for a in agencies))
    host, port = url.removeprefix("http://").split(":")
    samples: dict = {}
    report.part(f"crowd against {label}: {args.connections:,} connections, {args.rate:,.0f} req/s offered for "
                f"{args.seconds:g} s after {args.warmup:g} s warm-up, {args.clients} client processes")
    t, generator_before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    fig = open_loop.run(host, int(port), mix, args.connections, args.rate, args.seconds, warmup=args.warmup,
                        processes=args.clients, timeout=args.timeout,
                        on_ready=lambda n: print(f"  {n:,} connections open after {time.monotonic() - t:.1f} s",
                                                 flush=True),
                        on_window=lambda edge: samples.__setitem__(edge, cpu()))
    generator_after = resource.getrusage(resource.RUSAGE_CHILDREN)   # its client processes, joined by now
    generator_cores = (generator_after.ru_utime + generator_after.ru_stime - generator_before.ru_utime
                       - generator_before.ru_stime) / (time.monotonic() - t)
    return report.crowd(fig, args.seconds, samples["end"] - samples["start"], label, generator_cores)


def run_kinds(servers: Servers, agencies: list[Agency], args) -> list[dict]:
    report.part(f"kinds: each kind alone, {args.kind_rate:g} req/s offered over {args.kind_connections} connections "
                f"for {args.kind_seconds:g} s, rate limits lifted; CPU per 2xx answer")
    host, port = servers.real_url.removeprefix("http://").split(":")
    ids = tuple(AgencyIds.of(a) for a in agencies)
    rows = []
    for kind in args.kind or MIX:
        samples: dict = {}
        fig = open_loop.run(host, int(port), CrowdMix(ids, ((kind, 1.0),)), args.kind_connections, args.kind_rate,
                            args.kind_seconds, warmup=2, processes=1, timeout=args.timeout,
                            on_window=lambda edge, into=samples: into.__setitem__(edge, servers.real_cpu()))
        wait_for_refresher(args.settle_timeout, quiet=True)
        drained = servers.real_cpu()
        rows.append(report.kind_row(kind, fig, samples["end"] - samples["start"], drained - samples["start"]))
    return rows


def run_fair(servers: Servers, agencies: list[Agency], args) -> dict:
    a, b = agencies[0], agencies[1]
    b_mix = CrowdMix((AgencyIds.of(b),))
    seconds = args.fair_seconds
    report.part(f"fair share: agency B offers {args.fair_rate:g} req/s (open loop, {args.fair_connections} "
                f"connections, the crowd's mix) for {seconds:g} s alone, then while agency A floods with wrk "
                f"({args.flood_connections} connections, one key, GET contacts by id, as fast as it is answered); "
                "default rate limits. Control: the same flood aimed at the bare app instead, so B shares the "
                "cores with the flooder but the CRM never sees it")
    port = servers.real_port

    def b_run() -> open_loop.Figures:
        return open_loop.run("127.0.0.1", port, b_mix, args.fair_connections, args.fair_rate, seconds, warmup=2,
                             processes=1, timeout=args.timeout)

    def flooded(url: str, cpu) -> tuple[open_loop.Figures, dict]:
        flood_entries = [(f"/api/v1/contacts/{c}", a.keys[0]) for c in a.contacts[:wrk_runner.MAX_ENTRIES]]
        flood = wrk_runner.start(url, flood_entries, args.flood_connections, seconds + 10, count_statuses=True)
        try:
            time.sleep(2)
            wrk_before, server_before, t = srv.cpu_seconds(flood.pid), cpu(), time.monotonic()
            loaded = b_run()
            took = time.monotonic() - t
            wrk_cpu, server = srv.cpu_seconds(flood.pid) - wrk_before, cpu() - server_before
        finally:
            result = wrk_runner.finish(flood)
        return loaded, result | {"flooder_cores": wrk_cpu / took,
                                 "server_cores": (server.app + server.postgres) / took}

    idle = b_run()
    loaded, flood_result = flooded(servers.real_url, servers.real_cpu)
    control, control_result = flooded(servers.bare_url, servers.bare_cpu)
    return report.fair(idle, loaded, flood_result, control, control_result)


def run_shed(servers: Servers, agencies: list[Agency], args) -> dict:
    report.part(f"shed: one worker, its in-flight bound held full; reads by id offered at {args.shed_rate:g} req/s "
                f"over 1,000 connections for {args.shed_seconds:g} s, all refused 503; the bare app, one worker, "
                "answering the same")
    ids = tuple(AgencyIds.of(a) for a in agencies)
    reads = CrowdMix(ids, (("contact", 1.0),))
    a = agencies[0]

    def offered(url: str, cpu) -> tuple[open_loop.Figures, float]:
        host, port = url.removeprefix("http://").split(":")
        samples: dict = {}
        fig = open_loop.run(host, int(port), reads, 1000, args.shed_rate, args.shed_seconds, warmup=2, processes=1,
                            timeout=args.timeout, on_window=lambda edge: samples.__setitem__(edge, cpu()))
        return fig, (samples["end"] - samples["start"]).parts.get("workers", 0.0)

    servers.start_real(unlimited=True, workers=1, extra_env={"CRM_MAX_IN_FLIGHT": "1", "CRM_BODY_TIMEOUT": "600"})
    holder = socket.create_connection(("127.0.0.1", servers.real_port))
    try:   # a note whose body never comes: the worker's one in-flight request
        holder.sendall(f"POST /api/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {a.keys[0]}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        time.sleep(1)
        refused, refusal_cpu = offered(servers.real_url, servers.real_cpu)
    finally:
        holder.close()
    servers.start_bare(workers=1)
    bare, bare_cpu = offered(servers.bare_url, servers.bare_cpu)
    servers.start_bare()
    return report.shed(refused, refusal_cpu, bare, bare_cpu)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=("table", "kinds", "crowd", "fair", "shed"), action="append",
                   help="run only this part (repeatable); default: all three")
    p.add_argument("--demo", choices=tuple(SIZES), default="small",
                   help="seed size: contacts per agency " + ", ".join(f"{k} {v:,}" for k, v in SIZES.items()))
    p.add_argument("--agencies", type=int, default=10)
    p.add_argument("--keys", type=int, default=10, help="API keys per agency")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server worker processes (both apps)")
    p.add_argument("--seconds", type=float, default=60, help="the crowd's measured seconds")
    p.add_argument("--warmup", type=float, default=5, help="the crowd's warm-up seconds")
    p.add_argument("--connections", type=int, default=10_000, help="the crowd's open connections")
    p.add_argument("--rate", type=float, default=1000, help="the crowd's offered requests per second in total")
    p.add_argument("--clients", type=int, default=os.cpu_count() or 2, help="the crowd's client processes")
    p.add_argument("--timeout", type=float, default=30, help="a crowd request unanswered this long is a timeout")
    p.add_argument("--no-crowd-baseline", action="store_true", help="skip the crowd against the bare app")
    p.add_argument("--table-connections", type=int, nargs="+", default=[16, 64])
    p.add_argument("--table-seconds", type=float, default=5)
    p.add_argument("--warmup-table", type=float, default=2)
    p.add_argument("--kind", choices=tuple(MIX), action="append",
                   help="in the kinds part, only this kind (repeatable; default: every kind of the mix)")
    p.add_argument("--kind-rate", type=float, default=100, help="each kind's offered req/s in the kinds part")
    p.add_argument("--kind-connections", type=int, default=200)
    p.add_argument("--kind-seconds", type=float, default=15)
    p.add_argument("--fair-seconds", type=float, default=20)
    p.add_argument("--fair-rate", type=float, default=50)
    p.add_argument("--fair-connections", type=int, default=50)
    p.add_argument("--flood-connections", type=int, default=64)
    p.add_argument("--shed-rate", type=float, default=1000, help="reads offered per second in the shed part")
    p.add_argument("--shed-seconds", type=float, default=15)
    p.add_argument("--settle-timeout", type=float, default=600,
                   help="seconds to wait for the refresher to work off what seeding queued before measuring")
    p.add_argument("--keep-logs", type=Path, help="copy the servers' logs (and the refresher's) here at exit")
    p.add_argument("--keep-alive", type=float, default=KEEP_ALIVE_SECONDS,
                   help="the bare app's --timeout-keep-alive; default: what `crm serve` uses (a shorter one makes "
                        "the bare app reopen the crowd's idle connections, which the CRM does not)")
    args = p.parse_args()
    parts = args.only or ["table", "crowd", "fair"]

    from crm.db.embedded import stop_on_sigterm

    stop_on_sigterm()   # SIGTERM exits normally: the finally below and pgserver's exit hook still run
    print(f"machine: {srv.machine_facts()}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="crm-load-"))
    # registered before PostgreSQL starts, so it runs after pgserver's own exit hook has stopped the server
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["CRM_HOME"] = str(home)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    servers = Servers(home, args.workers, args.keep_alive)
    results: dict = {"parts": parts, "workers": args.workers}
    try:
        t = time.perf_counter()
        agencies = seed(args.agencies, SIZES[args.demo], args.keys, random.Random(11))
        print(f"seeded {args.agencies} agencies x {SIZES[args.demo]:,} contacts ({SIZES[args.demo] // 10:,} "
              f"companies, {SIZES[args.demo] // 4:,} deals, a lead score per contact, {args.keys} API keys) in "
              f"{time.perf_counter() - t:.0f} s; scratch CRM_HOME {home}", flush=True)
        servers.start_bare()
        servers.start_real(unlimited="table" in parts or "kinds" in parts)
        read_cursors(servers.real_url, agencies)
        print(f"servers up: `crm serve --workers {args.workers}` (with its refresher) and the bare app, "
              f"{args.workers} workers each", flush=True)
        wait_for_refresher(args.settle_timeout)
        if "table" in parts:
            results["table"] = run_table(servers, agencies, args)
        if "kinds" in parts:
            results["kinds"] = run_kinds(servers, agencies, args)
        if "crowd" in parts or "fair" in parts:
            if "table" in parts or "kinds" in parts:
                servers.start_real(unlimited=False)   # default rate limits from here on
            report.server_limits(servers.real.pid, args.connections)
        if "crowd" in parts:
            # the baseline first: a server still working off an overload would take the bare app's cores
            if not args.no_crowd_baseline:
                results["crowd_bare"] = run_crowd(servers.bare_url, agencies, args, servers.bare_cpu, "the bare app")
            results["crowd"] = run_crowd(servers.real_url, agencies, args, servers.real_cpu, "the CRM")
        if "fair" in parts:
            if "crowd" in parts:
                servers.start_real(unlimited=False)   # a fresh server: no backlog left from the crowd
            results["fair"] = run_fair(servers, agencies, args)
        if "shed" in parts:
            results["shed"] = run_shed(servers, agencies, args)
        report.summary(results, srv.machine_facts())
    except BaseException:
        for name in ("serve.log", "bare.log"):
            log = home / "logs" / name
            if log.exists():
                print(f"--- last lines of {name} ---\n" + "\n".join(log.read_text().splitlines()[-30:]),
                      file=sys.stderr)
        raise
    finally:
        servers.stop()
        if args.keep_logs:
            shutil.copytree(home / "logs", args.keep_logs, dirs_exist_ok=True)


if __name__ == "__main__":
    main()

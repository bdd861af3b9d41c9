"""Benchmark: workflow event -> first step latency, and sustained runs per second, each beside its baseline.

In a fresh CRM_HOME (own embedded PostgreSQL) with one fresh agency, the real processes `crm serve --no-refresher
--no-workflows` (the API) and `crm workflows` (the worker) run as they do under `crm serve`:

1. latency: `--writes` API writes (PATCH /deals/{id} moving a deal to another stage), `--interval` s apart, each
   triggering a three-step workflow (create_task -> add_note -> update_field). Latency = from the moment the
   request left to the first step's `started_at`. Baseline: the same API write's own round trip.
2. throughput: `--runs` deals are updated through the deals service in transactions of `--batch` (bare service
   writes, timed: the baseline) with no workflow listening; then again with a three-step workflow enabled on that
   change: every update becomes one run. Runs per second = runs / (first write -> last run finished). Each run
   writes three records (task, note, deal), so the bare service writes per second over three is the ceiling a
   run could reach if running it cost nothing but its writes.
3. backlog: the worker is paused (SIGSTOP) while the same deals are updated once more, then let go (SIGCONT):
   runs per second = runs / (let go -> last run finished): what the worker and PostgreSQL sustain on their own
   (dispatch and runs), without the writer competing for the same cores. Same baseline.
CPU seconds of the worker, the API and PostgreSQL over each phase are printed (Linux /proc). Nothing is asserted.

    .venv/bin/python bench/workflows.py [--writes 100] [--interval 0.2] [--runs 2000] [--batch 100]
                                        [--home DIR] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench_servers import cpu_seconds, descendants, free_port, postgres_pids, start, stop, wait_up

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

GOAL_P95_S, GOAL_RUNS_PER_S = 5.0, 200.0


def steps(title: str) -> list[dict]:
    return [{"id": "task", "type": "create_task", "params": {"title": title, "due_in_minutes": 60,
                                                            "assignee": "owner"}},
            {"id": "note", "type": "add_note", "params": {"body": f"{title}: noted by a workflow"}},
            {"id": "mark", "type": "update_field", "params": {"field": "lost_reason", "value": "bench"}}]


def quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def cpu(worker_pid: int, server_pid: int, home: Path) -> dict[str, float]:
    return {"worker": sum(cpu_seconds(p) for p in descendants(worker_pid)),   # with its runs processes
            "api": sum(cpu_seconds(p) for p in descendants(server_pid)),
            "postgres": sum(cpu_seconds(p) for p in postgres_pids(home))}


def cpu_line(before: dict, after: dict, wall: float) -> str:
    return ", ".join(f"{k} {after[k] - before[k]:.1f} s ({100 * (after[k] - before[k]) / wall:.0f}% of a core)"
                     for k in before)


def setup_agency(deals_needed: int):
    from crm.db.engine import tenant_session
    from crm.schemas.deals import DealCreate
    from crm.schemas.pipelines import PipelineCreate, StageCreate
    from crm.services import deals, pipelines
    from crm.tenancy import create_tenant

    tenant = create_tenant(f"Workflow bench {uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}@example.com",
                           "bench-password-1")
    with tenant_session(tenant["tenant_id"]) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", is_default=True, stages=[
            StageCreate(name="New"), StageCreate(name="Proposal"), StageCreate(name="Negotiation")]))
        stages = [st.id for st in pipelines.stages_of(s, pipeline.id)]
    ids = []
    for at in range(0, deals_needed, 500):
        with tenant_session(tenant["tenant_id"]) as s:
            ids += [deals.create(s, DealCreate(name=f"Deal {i}", amount=1000)).id
                    for i in range(at, min(deals_needed, at + 500))]
    return tenant, stages, ids


def workflow(tenant_id: str, name: str, trigger: dict, enabled: bool) -> uuid.UUID:
    from crm.db.engine import tenant_session
    from crm.workflows import service

    with tenant_session(tenant_id) as s:
        return service.create(s, name=name, enabled=enabled,
                              definition={"trigger": trigger, "steps": steps(name)}).id


def first_steps(tenant_id: str, workflow_id: uuid.UUID) -> dict[uuid.UUID, dt.datetime]:
    from sqlalchemy import text

    from crm.db.engine import tenant_session

    with tenant_session(tenant_id) as s:
        rows = s.execute(text("select r.entity_id, min(st.started_at) as first from workflow_runs r "
                              "join workflow_step_runs st on st.run_id = r.id where r.workflow_id = :w "
                              "group by r.entity_id"), {"w": workflow_id})
        return {r.entity_id: r.first for r in rows}


def runs_state(tenant_id: str, workflow_id: uuid.UUID):
    from sqlalchemy import text

    from crm.db.engine import tenant_session

    with tenant_session(tenant_id) as s:
        return s.execute(text("select count(*) filter (where status in ('succeeded', 'failed')) as done, "
                              "count(*) filter (where status = 'failed') as failed, count(*) as started, "
                              "max(finished_at) as last, min(queued_at) as first_queued, "
                              "max(queued_at) as last_queued from workflow_runs where workflow_id = :w"),
                         {"w": workflow_id}).one()


def latency_phase(url: str, tenant: dict, stages: list, deal_ids: list, wf: uuid.UUID) -> tuple[list, list]:
    import httpx

    sent: dict[uuid.UUID, tuple[dt.datetime, float]] = {}
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {tenant['api_key']}"},
                      timeout=30) as client:
        for n, deal_id in enumerate(deal_ids[:ARGS.writes]):
            left, t0 = dt.datetime.now(dt.UTC), time.perf_counter()
            response = client.patch(f"/deals/{deal_id}", json={"stage_id": str(stages[1 + n % 2])})
            took = time.perf_counter() - t0
            if response.status_code != 200:
                print(f"  write {n}: {response.status_code} {response.text[:200]}", flush=True)
                continue
            sent[deal_id] = (left, took)
            time.sleep(max(0.0, ARGS.interval - took))
    deadline = time.monotonic() + ARGS.timeout
    while len(found := first_steps(tenant["tenant_id"], wf)) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.2)
    latencies = sorted((found[d] - left).total_seconds() for d, (left, _) in sent.items() if d in found)
    round_trips = sorted(took for _, took in sent.values())
    return latencies, round_trips


def worker_running(log: Path, pid: int) -> bool:
    return log.exists() and f"workflow worker {pid} running" in log.read_text(errors="replace")


def bulk_updates(tenant_id: str, deal_ids: list, amount: int) -> float:
    """Every deal's amount set through the deals service, `--batch` per transaction; seconds taken."""
    from crm.db.engine import tenant_session
    from crm.db.models import Deal
    from crm.schemas.deals import DealUpdate
    from crm.services import deals

    started = time.perf_counter()
    for at in range(0, len(deal_ids), ARGS.batch):
        with tenant_session(tenant_id) as s:
            for deal_id in deal_ids[at:at + ARGS.batch]:
                deals.update(s, s.get(Deal, deal_id), DealUpdate(amount=amount))
    return time.perf_counter() - started


def run(home: Path) -> None:
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    ensure_home()
    migrate()
    tenant, stages, deal_ids = setup_agency(max(ARGS.runs, ARGS.writes))
    t = tenant["tenant_id"]
    latency_wf = workflow(t, "Proposal follow-up", {"type": "record", "entity": "deal", "actions": ["update"],
                                                    "changed": ["stage_id"]}, enabled=True)
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "CRM_HOME": str(home)}
    server = start([sys.executable, "-m", "app.cli.main", "serve", "--no-refresher", "--no-workflows", "--workers",
                    "1", "--port", str(port)], env, logs / "bench-serve.log")
    worker = start([sys.executable, "-m", "app.cli.main", "workflows"], env, logs / "bench-workflows.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/healthz", server, 180)
        deadline = time.monotonic() + 180
        while not worker_running(logs / "workflows.log", worker.pid):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"crm workflows did not start; see {logs / 'bench-workflows.log'}")
            time.sleep(0.2)
        print(f"workflow bench, CRM_HOME={home}, one agency, {os.cpu_count()} cores; API and worker up", flush=True)

        before, wall = cpu(worker.pid, server.pid, home), time.perf_counter()
        latencies, round_trips = latency_phase(url, tenant, stages, deal_ids, latency_wf)
        print(f"  latency phase: {len(round_trips)} writes, {len(latencies)} first steps seen; CPU "
              f"{cpu_line(before, cpu(worker.pid, server.pid, home), time.perf_counter() - wall)}", flush=True)

        targets = deal_ids[:ARGS.runs]
        before, wall = cpu(worker.pid, server.pid, home), time.perf_counter()
        bare_s = bulk_updates(t, targets, 2000)   # no workflow listens to amount yet
        print(f"  baseline: {len(targets)} bare service writes in {bare_s:.2f} s; CPU "
              f"{cpu_line(before, cpu(worker.pid, server.pid, home), time.perf_counter() - wall)}", flush=True)
        time.sleep(2)   # the worker consumes those events (nothing matches) before the measured phase
        wf = workflow(t, "Big deal", {"type": "record", "entity": "deal", "actions": ["update"],
                                      "changed": ["amount"]}, enabled=True)
        before, started = cpu(worker.pid, server.pid, home), time.perf_counter()
        first_write = dt.datetime.now(dt.UTC)
        write_s = bulk_updates(t, targets, 3000)
        deadline = time.monotonic() + ARGS.timeout
        while (state := runs_state(t, wf)).done < len(targets) and time.monotonic() < deadline:
            time.sleep(0.2)
        wall = time.perf_counter() - started
        after = cpu(worker.pid, server.pid, home)
        backlog = backlog_phase(worker, server, home, t, targets, wf, state.done)
    finally:
        stop(worker)
        stop(server)

    print(f"\n{'':44}{'value':>12}{'baseline':>12}{'ratio':>8}   goal")
    if latencies:
        rt50, rt95 = quantile(round_trips, 0.5), quantile(round_trips, 0.95)
        for label, value, base in (("event -> first step p50 (s)", quantile(latencies, 0.5), rt50),
                                   ("event -> first step p95 (s)", quantile(latencies, 0.95), rt95)):
            print(f"{label:44}{value:>12.3f}{base:>12.3f}{value / base:>8.1f}   "
                  f"{'p95 <= 5 s' if 'p95' in label else ''}")
        print(f"{'  (baseline: the API write round trip itself)':44}")
    elapsed = (state.last - first_write).total_seconds() if state.last else float("nan")
    runs_per_s = state.done / elapsed if state.done else 0.0
    writes_per_s = len(targets) / bare_s
    print(f"{'sustained runs/s (3 steps)':44}{runs_per_s:>12.1f}{writes_per_s:>12.1f}{runs_per_s / writes_per_s:>8.2f}"
          f"   >= {GOAL_RUNS_PER_S:.0f}/s")
    print(f"{'  (baseline: bare service writes/s; /3 =':44}{writes_per_s / 3:>12.1f}{'':>12}{'':>8}   "
          "a run's three writes alone)")
    queued_s = (state.last_queued - state.first_queued).total_seconds() if state.last_queued else float("nan")
    print(f"\nthroughput phase: {state.started} runs started ({state.failed} failed), {state.done} finished in "
          f"{elapsed:.1f} s from the first write; the writes took {write_s:.1f} s, runs were queued over "
          f"{queued_s:.1f} s; CPU {cpu_line(before, after, wall)}")
    if state.done:
        print("CPU per finished run: " + ", ".join(f"{k} {1000 * (after[k] - before[k]) / state.done:.1f} ms"
                                                  for k in before))
    runs, seconds, b_before, b_after, b_wall = backlog
    drained = runs / seconds if runs and seconds > 0 else 0.0
    print(f"\n{'backlog runs/s (3 steps, worker let go)':44}{drained:>12.1f}{writes_per_s:>12.1f}"
          f"{drained / writes_per_s:>8.2f}   >= {GOAL_RUNS_PER_S:.0f}/s")
    print(f"backlog phase: {runs} runs in {seconds:.1f} s after the worker was let go; CPU "
          f"{cpu_line(b_before, b_after, b_wall)}")
    if runs:
        print("CPU per finished run: " + ", ".join(f"{k} {1000 * (b_after[k] - b_before[k]) / runs:.1f} ms"
                                                  for k in b_before)
              + " (the worker's and PostgreSQL's: nothing else of the bench runs meanwhile)")


def backlog_phase(worker, server, home: Path, tenant_id: str, targets: list, wf: uuid.UUID, done_before: int):
    """(runs, seconds from letting the worker go to the last run finished, CPU before, CPU after, wall)."""
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        bulk_updates(tenant_id, targets, 4000)
    finally:
        before, started = cpu(worker.pid, server.pid, home), time.perf_counter()
        let_go = dt.datetime.now(dt.UTC)
        os.kill(worker.pid, signal.SIGCONT)
    deadline = time.monotonic() + ARGS.timeout
    while (state := runs_state(tenant_id, wf)).done < done_before + len(targets) and time.monotonic() < deadline:
        time.sleep(0.2)
    wall = time.perf_counter() - started
    return state.done - done_before, (state.last - let_go).total_seconds(), before, cpu(worker.pid, server.pid,
                                                                                        home), wall


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writes", type=int, default=100, help="API writes of the latency phase")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between them")
    ap.add_argument("--runs", type=int, default=2000, help="runs of the throughput phase")
    ap.add_argument("--batch", type=int, default=100, help="service writes per transaction")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for runs after the writes")
    ap.add_argument("--home", type=Path, help="CRM_HOME to use (default: a fresh temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary CRM_HOME")
    ARGS = ap.parse_args()
    home = ARGS.home or Path(tempfile.mkdtemp(prefix="crm-bench-workflows-"))
    os.environ["CRM_HOME"] = str(home)
    try:
        run(home)
    finally:
        from crm.db.embedded import release_embedded_servers
        from crm.db.engine import dispose_engines

        dispose_engines()
        release_embedded_servers()
        if ARGS.home is None and not ARGS.keep:
            shutil.rmtree(home, ignore_errors=True)


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()

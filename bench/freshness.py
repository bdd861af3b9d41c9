"""Benchmark: event-to-score latency of the live path, beside the batch path's floor (one pipeline run).

In a fresh CRM_HOME (own embedded PostgreSQL):
  load the demo -> run the pipeline once, timed (the baseline: a score that follows an event through the batch
  path waits at least one whole run) -> start the real `crm refresher` and `crm serve --no-refresher` as
  processes -> wait until the refresher has worked off the demo's own backlog of touched entities -> send
  `--events` single events through POST /api/v1/events, spaced `--interval` s apart, each to a random scored lead
  (contact_id) or account (company_id) of a random agency. With `--bulk-touch`, every contact and company is
  rewritten first, so the events arrive behind a refresh backlog of the whole demo.
Event-to-score latency = from the API's 2xx to the first moment a poll (every `--poll` s) sees the entity's
`scores.scored_at` newer than the request AND no change of it waiting in live_refresh_queue (so the score read is
one whose refresh included the event). Events with text (replies, calls, tickets) also time event-to-passage:
from the 2xx to the first look (every 0.5 s) that finds the activity's passage in LanceDB. The insight index
fills in the background meanwhile (the demo's notes), as on a first run; its queue depth is printed. Nothing is
asserted: every figure is printed.

    .venv/bin/python bench/freshness.py [--size small|medium] [--events 120] [--interval 0.5] [--bulk-touch]
                                        [--home DIR] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench_io import quiet_fd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LEAD_EVENTS = ("email_replied", "email_opened", "web_visit", "form_submit", "meeting", "call")
TEXT_EVENTS = ("email_replied", "call", "support_ticket")
TEXTS = ("They asked for a quote for the spring campaign.", "Unhappy with the last report, wants a call.",
         "Budget approved, send the contract.", "Comparing us with two other agencies this month.")
ACCOUNT_EVENTS = ("order", "support_ticket", "meeting", "call")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# one snapshot: the entity's current score and whether a change of it still waits to be refreshed
_SEEN = """
select s.scored_at,
       exists (select 1 from live_refresh_queue q where q.tenant_id = s.tenant_id and q.entity_id = s.entity_id)
         as waiting
  from scores s where s.tenant_id = :t and s.entity_type = :e and s.entity_id = :i
"""


@dataclass
class Sent:
    tenant_id: str
    entity_type: str
    entity_id: str
    requested_at: dt.datetime      # before the request left: a score newer than this may include the event
    acked: float                   # perf_counter at the 2xx
    latency: float | None = None
    activity_id: str | None = None  # events with text: the activity whose passage the index lane writes
    index_latency: float | None = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "app.cli.main", *args], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)   # both exit normally on it, detaching from PostgreSQL
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until(condition, timeout: float, what: str, procs: list[subprocess.Popen]) -> float:
    started = time.perf_counter()
    while not condition():
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a child process exited while waiting for {what}; see the logs under $CRM_HOME/logs")
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def scored_entities(per_type: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(tenant_id, entity_type, entity_id) of currently scored leads and accounts, across agencies (operator read)."""
    from sqlalchemy import text

    from crm.db.engine import admin_engine

    with admin_engine().connect() as conn:
        out = []
        for entity_type in ("lead", "account"):
            rows = conn.execute(text("select cast(tenant_id as text), entity_type, cast(entity_id as text) "
                                     "from scores where entity_type = :e order by random() limit :n"),
                                {"e": entity_type, "n": per_type}).all()
            out += [tuple(r) for r in rows]
    rng.shuffle(out)
    return out


def poll_until_scored(pending: list[Sent], done: threading.Event, every: float) -> None:
    """Record each sent event's latency the first time its entity's refreshed score is visible."""
    from sqlalchemy import text

    from crm.db.engine import admin_engine

    seen = text(_SEEN)
    with admin_engine().connect() as conn:
        while not (done.is_set() and all(s.latency is not None for s in pending)):
            for sent in [s for s in pending if s.latency is None]:
                row = conn.execute(seen, {"t": sent.tenant_id, "e": sent.entity_type, "i": sent.entity_id}).first()
                conn.rollback()   # a fresh snapshot per poll
                if row is not None and row.scored_at > sent.requested_at and not row.waiting:
                    sent.latency = time.perf_counter() - sent.acked
            time.sleep(every)


def poll_until_indexed(pending: list[Sent], done: threading.Event, every: float) -> None:
    """Record each text event's index latency the first time its activity has a passage in LanceDB (the
    refresher's index lane writes them; this process reads the same table, newest version each look)."""
    from serving.rag.store import open_table

    table = None
    while not (done.is_set() and all(s.index_latency is not None for s in pending if s.activity_id)):
        waiting = {s.activity_id: s for s in pending if s.activity_id and s.index_latency is None}
        table = table or open_table()
        if waiting and table is not None:
            table.checkout_latest()
            ids = ", ".join(f"'{i}'" for i in waiting)
            found = table.search().where(f"source_id in ({ids})").select(["source_id"]).limit(len(waiting) * 8)
            for source_id in {row["source_id"] for row in found.to_list()}:
                waiting[source_id].index_latency = time.perf_counter() - waiting[source_id].acked
        time.sleep(every)


def send_events(url: str, keys: dict[str, str], targets: list, count: int, interval: float,
                rng: random.Random) -> list[Sent]:
    import httpx

    pending: list[Sent] = []
    done = threading.Event()
    poller = threading.Thread(target=poll_until_scored, args=(pending, done, ARGS.poll), daemon=True)
    poller.start()
    indexer = threading.Thread(target=poll_until_indexed, args=(pending, done, 0.5), daemon=True)
    indexer.start()
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
        for n in range(count):
            tenant_id, entity_type, entity_id = targets[n % len(targets)]
            kind = rng.choice(LEAD_EVENTS if entity_type == "lead" else ACCOUNT_EVENTS)
            ref = {"contact_id": entity_id} if entity_type == "lead" else {"company_id": entity_id}
            requested_at = dt.datetime.now(dt.UTC)
            event = {"type": kind, "occurred_at": (requested_at - dt.timedelta(seconds=1)).isoformat(),
                     "external_id": f"bench-{n}-{rng.getrandbits(32):08x}", "source": "bench", **ref}
            if kind in TEXT_EVENTS:   # a reply or a call summary: a passage for the insight index too
                event["body"] = f"Bench {n}: {rng.choice(TEXTS)}"
            response = client.post("/events", json={"events": [event]},
                                   headers={"Authorization": f"Bearer {keys[tenant_id]}"})
            acked = time.perf_counter()
            if response.status_code != 200 or response.json()["accepted"] != 1:
                print(f"  event {n} not accepted: {response.status_code} {response.text[:200]}", flush=True)
            else:
                activity = response.json()["results"][0]["activity_id"] if "body" in event else None
                pending.append(Sent(tenant_id, entity_type, entity_id, requested_at, acked, activity_id=activity))
            time.sleep(max(0.0, interval * rng.uniform(0.5, 1.5) - (time.perf_counter() - acked)))
    deadline = time.perf_counter() + ARGS.timeout
    while (any(s.latency is None or (s.activity_id and s.index_latency is None) for s in pending)
           and time.perf_counter() < deadline):
        time.sleep(0.2)
    for s in pending:   # unseen within the timeout: counted as missed, not as a latency
        if s.latency is None:
            s.latency = float("nan")
        if s.activity_id and s.index_latency is None:
            s.index_latency = float("nan")
    done.set()
    poller.join(5)
    indexer.join(5)
    return pending


def bulk_touch() -> int:
    """Every contact and company of every agency rewritten in one statement per table (updated_at only, through
    each agency's own RLS session): the triggers queue every entity, as a large import would."""
    from sqlalchemy import text

    from crm.db.engine import tenant_session
    from crm.tenancy import all_tenant_ids

    rows = 0
    for tenant_id in all_tenant_ids():
        with tenant_session(tenant_id) as session:
            for table in ("companies", "contacts"):
                rows += session.execute(text(f"update {table} set updated_at = updated_at")).rowcount
    return rows


def quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def run(size: str, home: Path, rng: random.Random) -> None:
    from rich.console import Console

    from app.demo import load_demo
    from crm import live_queue
    from crm.tenancy import all_tenant_ids, create_api_key
    from pipelines.run import run_pipeline

    print(f"freshness bench, {size} demo, CRM_HOME={home}", flush=True)
    started = time.perf_counter()
    load_demo(size, console=Console(stderr=True, quiet=True))
    print(f"  demo loaded in {time.perf_counter() - started:.1f} s; queued: {live_queue.total_depth()}", flush=True)

    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with quiet_fd(1, logs / "bench-pipeline-stdout.log"):   # dbt's subprocess writes its progress to our stdout
        result = run_pipeline(ARGS.select, raise_on_error=False)
    pipeline_s = time.perf_counter() - started
    print(f"  pipeline ({ARGS.select or 'all assets'}) in {pipeline_s:.1f} s, success={result.success}", flush=True)

    url = f"http://127.0.0.1:{free_port()}"
    refresher = server = None
    try:
        refresher = start(["refresher"], logs / "bench-refresher.log")
        server = start(["serve", "--no-refresher", "--port", url.rsplit(":", 1)[1]], logs / "bench-serve.log")
        backlog = live_queue.total_depth()
        cpu_before_backlog = cpu_seconds(refresher.pid)
        backlog_s = wait_until(lambda: live_queue.total_depth()["refresh"] == 0, 1800,
                               "the refresher working off the demo's backlog", [refresher, server])
        backlog_cpu = cpu_seconds(refresher.pid) - cpu_before_backlog
        print(f"  refresher started; demo backlog of {backlog['refresh']:,} touched entities worked off in "
              f"{backlog_s:.1f} s (from process start, {backlog_cpu:.1f} CPU s)", flush=True)
        wait_until(lambda: healthy(url), 180, "crm serve answering /healthz", [refresher, server])

        keys = {t: create_api_key(t, role="member", name="freshness bench")["api_key"] for t in all_tenant_ids()}
        targets = scored_entities(max(ARGS.events, 50), rng)
        if ARGS.bulk_touch:
            touched = bulk_touch()
            print(f"  bulk update of every contact and company ({touched:,} rows, as a large import would): "
                  f"{live_queue.total_depth()['refresh']:,} refresh rows queued as the events start", flush=True)
        index_before = live_queue.total_depth()["index"]
        cpu_before, wall_before = cpu_seconds(refresher.pid), time.perf_counter()
        sent = send_events(url, keys, targets, ARGS.events, ARGS.interval, rng)
        cpu_used, wall = cpu_seconds(refresher.pid) - cpu_before, time.perf_counter() - wall_before
        index_after = live_queue.total_depth()["index"]
        refresh_after = live_queue.total_depth()["refresh"]
    finally:
        stop(server)
        stop(refresher)

    latencies = sorted(s.latency for s in sent if s.latency == s.latency)
    missed = len(sent) - len(latencies)
    leads = sum(s.entity_type == "lead" for s in sent)
    print(f"\n{len(sent)} events accepted ({leads} to leads, {len(sent) - leads} to accounts), "
          f"{ARGS.interval} s apart; poll every {ARGS.poll} s; {missed} not scored within {ARGS.timeout:.0f} s")
    print(f"insight index queue during the events: {index_before:,} -> {index_after:,} passages' sources waiting")
    print(f"refresh queue when the last event was scored: {refresh_after:,} rows waiting")
    print(f"\n{'':34}{'seconds':>10}{'vs pipeline':>14}")
    print(f"{'batch path: one pipeline run':34}{pipeline_s:>10.1f}{1.0:>14.2f}")
    if latencies:
        for label, value in (("live: event-to-score p50", quantile(latencies, 0.5)),
                             ("live: event-to-score p95", quantile(latencies, 0.95)),
                             ("live: event-to-score max", latencies[-1])):
            print(f"{label:34}{value:>10.2f}{value / pipeline_s:>14.4f}")
    texts = sorted(s.index_latency for s in sent if s.activity_id and s.index_latency == s.index_latency)
    unindexed = sum(1 for s in sent if s.activity_id) - len(texts)
    if texts:
        print(f"\ninsight index, {len(texts)} events with text ({unindexed} not indexed within {ARGS.timeout:.0f} s): "
              f"event-to-passage p50 {quantile(texts, 0.5):.2f} s, p95 {quantile(texts, 0.95):.2f} s, "
              f"max {texts[-1]:.2f} s")
    print(f"\nrefresher CPU while the events ran: {cpu_used:.1f} s over {wall:.1f} s wall "
          f"({100 * cpu_used / wall:.0f}% of one core, both lanes)")


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small", choices=["small", "medium", "large"])
    ap.add_argument("--events", type=int, default=120)
    ap.add_argument("--interval", type=float, default=0.5, help="mean seconds between events")
    ap.add_argument("--poll", type=float, default=0.05, help="seconds between looks at the scores")
    ap.add_argument("--timeout", type=float, default=180, help="seconds after the last event to wait for scores")
    ap.add_argument("--select", default="not key:rag_index",
                    help="pipeline selection for the baseline (default: what scores depend on, as `crm demo` "
                         "runs before serving; '' = every asset, the insight index too)")
    ap.add_argument("--bulk-touch", action="store_true",
                    help="rewrite every contact and company just before the events, so they arrive behind a "
                         "backlog of the whole demo (a large import's worth)")
    ap.add_argument("--home", type=Path, default=None, help="CRM_HOME to use (default: a new dir under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the CRM_HOME afterwards")
    ap.add_argument("--seed", type=int, default=13)
    ARGS = ap.parse_args()
    home = ARGS.home or Path(tempfile.mkdtemp(prefix=f"crm-bench-fresh-{ARGS.size}-"))
    os.environ["CRM_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    from crm.db.migrate import migrate
    from crm.settings import reset_settings
    from crm.state import ensure_home

    reset_settings()
    ensure_home()
    migrate()
    try:
        run(ARGS.size, home, random.Random(ARGS.seed))
    finally:
        from crm.db.embedded import release_embedded_servers

        reset_settings()
        release_embedded_servers()
        if not ARGS.keep and ARGS.home is None:
            shutil.rmtree(home, ignore_errors=True)


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()

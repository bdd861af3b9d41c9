"""The server's Prometheus metrics and the /metrics text.

Request metrics are labelled by route *template* (never a raw id) and tenant id (an id, not a name).
Request metrics are tallied in the worker and written at most FLUSH_EVERY later (`Tally`); gauges of process
state (requests in flight, database pools, requests waiting for a db slot) are sampled at each such flush, again
while requests are in flight, and at each scrape;
under several workers they are summed over the live workers (multiprocess mode, see
api.observability.multiprocess). Queue depths are read from the database at scrape time (api.observability.queues).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from api.observability.multiprocess import ENV as MULTIPROC_ENV
from crm.db import slots
from crm.db.engine import app_engine

# 1 ms .. 10 s, denser around the product's 2 s bound
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

REQUESTS = Counter("crm_http_requests", "HTTP requests answered, by route template, status and tenant id",
                   ["method", "route", "status", "tenant"])
DURATION = Histogram("crm_http_request_duration_seconds", "Time from request to the end of the response",
                     ["method", "route"], buckets=LATENCY_BUCKETS)
DB_SECONDS = Counter("crm_db_seconds", "Database statement time spent by requests, by route and tenant id",
                     ["route", "tenant"])
SCORES = Counter("crm_scores_served", "Lead (kind=lead) and account (kind=account) scores answered",
                 ["kind", "tenant"])
IN_FLIGHT = Gauge("crm_http_requests_in_flight", "Requests being handled", multiprocess_mode="livesum")
SLOT_WAITING = Gauge("crm_db_slot_waiting", "Requests queued for a database slot", multiprocess_mode="livesum")
POOL_IN_USE = Gauge("crm_db_pool_in_use", "Database connections checked out of the pool", ["pool"],
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("crm_db_pool_size", "Most connections the pool will open", ["pool"], multiprocess_mode="livesum")
POOL_WAITING = Gauge("crm_db_pool_waiting", "Requests waiting for a connection from the pool", ["pool"],
                     multiprocess_mode="livesum")

Reading = Callable[[], float]
_pools: dict[str, tuple[Reading, Reading, Reading | None]] = {}


def register_pool(name: str, in_use: Reading, size: Reading, waiting: Reading | None = None) -> None:
    """Report a connection pool as crm_db_pool_*{pool=name}. The readings run in the request path (sampled at
    most once a second per worker): each must be cheap, e.g. a pool's counters, never a query."""
    _pools[name] = (in_use, size, waiting)


def _app_pool_in_use() -> float:
    # read only once the process has made the engine: sampling must not start one (or a database)
    return app_engine().pool.checkedout() if app_engine.cache_info().currsize else 0


def _app_pool_size() -> float:
    if not app_engine.cache_info().currsize:
        return 0
    pool = app_engine().pool
    return pool.size() + max(getattr(pool, "_max_overflow", 0), 0)


register_pool("app", _app_pool_in_use, _app_pool_size)


class ProcessGauges:
    """This worker's requests in flight; `sample` writes the process gauges."""

    def __init__(self) -> None:
        self.in_flight = 0

    def sample(self) -> None:
        IN_FLIGHT.set(self.in_flight)
        SLOT_WAITING.set(slots.waiting())
        for name, (in_use, size, waiting) in _pools.items():
            POOL_IN_USE.labels(name).set(in_use())
            POOL_SIZE.labels(name).set(size())
            if waiting is not None:
                POOL_WAITING.labels(name).set(waiting())


process = ProcessGauges()

FLUSH_EVERY = 0.5   # seconds a request's counts may wait in its worker before Prometheus' values hold them


class Tally:
    """This worker's request metrics since the last flush, in plain dicts; written to the Prometheus values
    (in multiprocess mode each write is a locked, pid-checked store into a memory-mapped file) by `flush`:
    FLUSH_EVERY after the first request of a batch (an event-loop timer, so an idle worker flushes too), and
    before every scrape of this process. A request then costs a few dictionary updates instead of a dozen
    such stores (its counter, histogram sum and bucket, database time, and the process gauges re-sampled
    each time the worker went idle): under hundreds of requests a second that was a tenth of a worker's
    CPU. The process gauges are sampled at each flush."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.db: dict[tuple[str, str], float] = {}
        self.scores: dict[tuple[str, str], int] = {}
        self._due: asyncio.TimerHandle | None = None

    def add(self, method: str, route: str, status: int, tenant: str, seconds: float, db_seconds: float,
            score_kind: str | None) -> None:
        key = (method, route, str(status), tenant)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.durations.setdefault((method, route), []).append(seconds)
        if db_seconds:
            self.db[(route, tenant)] = self.db.get((route, tenant), 0.0) + db_seconds
        if score_kind is not None:
            self.scores[(score_kind, tenant)] = self.scores.get((score_kind, tenant), 0) + 1
        if self._due is None:
            self._arm()

    def _arm(self) -> None:
        try:
            self._due = asyncio.get_running_loop().call_later(FLUSH_EVERY, self.flush)
        except RuntimeError:   # no event loop here: nothing would flush later
            self.flush()

    def flush(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
        requests, durations, db, scores = self.requests, self.durations, self.db, self.scores
        self.requests, self.durations, self.db, self.scores = {}, {}, {}, {}
        for labels, n in requests.items():
            REQUESTS.labels(*labels).inc(n)
        for labels, values in durations.items():
            histogram = DURATION.labels(*labels)
            for value in values:
                histogram.observe(value)
        for labels, total in db.items():
            DB_SECONDS.labels(*labels).inc(total)
        for labels, n in scores.items():
            SCORES.labels(*labels).inc(n)
        process.sample()
        if process.in_flight and self._due is None and _in_event_loop():
            self._arm()   # sampled busy: sample again, so a worker that goes idle shows its true zeros


tally = Tally()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _forget_dead_workers(directory: str) -> None:
    """A worker that died (and was replaced) would count in the live gauges' sums forever."""
    pids = {name.rsplit("_", 1)[-1].removesuffix(".db") for name in os.listdir(directory)
            if name.startswith("gauge_live")}
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            prom_multiprocess.mark_process_dead(int(pid), directory)
        except (ValueError, PermissionError):
            continue


def render(extra: CollectorRegistry) -> bytes:
    """The text exposition: this process's metrics, or every worker's in multiprocess mode, then `extra`
    (collectors that read shared state at scrape time). Call `tally.flush()` first, in the tallying loop."""
    process.sample()
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(extra)

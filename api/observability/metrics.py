"""The server's Prometheus metrics and the /metrics text.

Request metrics are labelled by route *template* (never a raw id) and tenant id (an id, not a name).
Gauges of process state (requests in flight, database pools, requests waiting for a db slot) are sampled
by the request middleware (at most once a second, and whenever the worker goes idle) and at each scrape;
under several workers they are summed over the live workers (multiprocess mode, see
api.observability.multiprocess). Queue depths are read from the database at scrape time (api.observability.queues).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from api.observability.multiprocess import ENV as MULTIPROC_ENV
from crm.db import slots
from crm.db.engine import app_engine

# 1 ms .. 10 s, denser around the product's 2 s bound
SAMPLE_EVERY = 1.0  # seconds between samples of the process gauges while the worker is busy
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
    """This worker's requests in flight, and when its gauges were last written."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.sampled_at = 0.0
        self.sampled_idle = False

    def sample(self) -> None:
        self.sampled_at = time.monotonic()
        self.sampled_idle = self.in_flight == 0
        IN_FLIGHT.set(self.in_flight)
        SLOT_WAITING.set(slots.waiting())
        for name, (in_use, size, waiting) in _pools.items():
            POOL_IN_USE.labels(name).set(in_use())
            POOL_SIZE.labels(name).set(size())
            if waiting is not None:
                POOL_WAITING.labels(name).set(waiting())

    def request_ended(self) -> None:
        """Sample when the worker goes idle (so an idle worker shows its true zeros) unless the last sample was
        already taken idle, and else once a second."""
        if (self.in_flight == 0 and not self.sampled_idle) or time.monotonic() - self.sampled_at >= SAMPLE_EVERY:
            self.sample()


process = ProcessGauges()


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
    (collectors that read shared state at scrape time)."""
    process.sample()
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(extra)

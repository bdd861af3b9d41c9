"""The refresher: two lanes that keep scores and the insight index in step with the live refresh outbox.

- the score lane claims touched contacts / companies per tenant and re-scores them as of now
  (`serving.live.refresh.refresh_tenant`);
- the index lane embeds written notes / activities into LanceDB (`serving.live.index_lane.index_tenant_queue`).
They run in separate threads because their costs differ by orders of magnitude: the first run of a demo queues
every note for embedding (minutes), and that backlog must never hold a score back by more than one batch.

Each pass takes one batch of each waiting tenant in turn, so a tenant with a large backlog cannot starve the
others. Before each of those backlog batches the lane sweeps every waiting tenant for rows queued since its
last look (per-tenant high-water ids, `FRESH_LIMIT` newest rows each): a change written while every agency
has a backlog (a bulk import, a demo's first run) waits for one backlog batch, not for a pass over them all.
When a pass finds nothing, the lane sleeps until a `NOTIFY crm_live` (sent by the queue triggers at
commit) or `poll_seconds`, whichever comes first. A pass that emptied the queue (no batch came back full) is
followed by a rest of `rest_factor` times its own duration, at most `max_rest_seconds`: a batch's cost is
mostly fixed (a tenant transaction, the feature queries, the model: warm, 25 to 35 ms of CPU for one contact,
130 ms for a hundred), so under a steady stream of writes the lane takes them in batches a rest long instead
of one transaction per write, and spends at most about 1 / (1 + rest_factor) of its time working. A single
change on a quiet queue is refreshed at once (the rest comes after it), and a backlog, whose batches come back
full, is worked off without rests. A tenant whose batch fails is logged and left alone for a
while (its rows stay queued: the claim rolled back with the work), never stopping the other tenants.
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from crm import live_queue
from crm.live_features import FeatureQueries
from serving.lanes import WAKE_CHECK_SECONDS, run_until_stopped

log = logging.getLogger(__name__)

Lane = Literal["score", "index"]
QUEUE_OF: dict[str, live_queue.Queue] = {"score": "refresh", "index": "index"}
MAX_RETRY_SECONDS = 60.0
# Each lane's nice value (Linux: per thread). Both are work that can wait for the requests being answered on the
# same cores; embedding can wait for scoring too. On an idle machine a nice value changes nothing.
LANE_NICE: dict[str, int] = {"score": 5, "index": 10}
FRESH_LIMIT: dict[str, int] = {"score": 100, "index": 32}   # rows per tenant per sweep of new arrivals
# A new change waits for at most about one backlog batch (the sweeps run between them). Embedding is the slow
# part: 256 texts a batch kept a new note out of the index for ~1 minute behind a first run's backlog.
SCORE_BATCH, INDEX_BATCH = 500, 64
REST_FACTOR, MAX_REST_SECONDS = 3.0, 1.0   # after a pass that emptied the queue: rest 3x its time, at most 1 s


@dataclass
class PassReport:
    """What one pass of one lane did: handed to `on_report` (the Dagster reporter) after each pass with work."""
    lane: Lane
    tenants: set[str] = field(default_factory=set)
    claimed: int = 0        # queue rows consumed
    refreshed: int = 0      # score lane: entities whose features (and score, with a champion) were refreshed
    scored: int = 0
    lags: list[float] = field(default_factory=list)   # score lane: seconds from queued to committed
    failed: set[str] = field(default_factory=set)
    full: bool = False      # a batch came back full: a backlog is waiting, no rest before the next pass


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


class Refresher:
    def __init__(self, queries: FeatureQueries, score_batch: int = SCORE_BATCH, index_batch: int = INDEX_BATCH,
                 poll_seconds: float = 5.0, on_report: Callable[[PassReport], None] | None = None,
                 first_retry_seconds: float = 2.0, rest_factor: float = REST_FACTOR,
                 max_rest_seconds: float = MAX_REST_SECONDS):
        self.queries, self.score_batch, self.index_batch = queries, score_batch, index_batch
        self.poll_seconds, self.on_report = poll_seconds, on_report
        self.rest_factor, self.max_rest_seconds = rest_factor, max_rest_seconds
        self.first_retry_seconds = first_retry_seconds   # doubled per failure in a row, up to MAX_RETRY_SECONDS
        self._retry_at: dict[tuple[Lane, str], float] = {}
        self._failures: dict[tuple[Lane, str], int] = {}
        self._index_batch_fn: Callable[..., int] | None = None
        self._embed_fn = None
        self._stop = threading.Event()   # set by `run`'s caller: an index batch gives up between encode slices
        self._seen: dict[tuple[Lane, str], int] = {}   # per lane and tenant: the newest queue id already swept

    # ---- one batch of one tenant ----------------------------------------------------------------------------

    def _score_batch(self, tenant_id: str, report: PassReport, limit: int | None = None,
                     newer_than: int | None = None) -> int:
        from serving.live.refresh import refresh_tenant

        batch = refresh_tenant(tenant_id, self.queries, limit or self.score_batch, newer_than=newer_than)
        report.refreshed += batch.leads.computed + batch.accounts.computed
        report.scored += batch.scored
        report.lags += batch.lags
        return batch.claimed

    def _index_batch(self, tenant_id: str, report: PassReport, limit: int | None = None,
                     newer_than: int | None = None, embed_fn=None) -> int:
        self._index_setup()
        return self._index_batch_fn(tenant_id, limit or self.index_batch, embed_fn=embed_fn or self._embed_fn,
                                    newer_than=newer_than)

    def _index_setup(self) -> None:
        if self._index_batch_fn is None:
            from serving.embeddings import embed
            from serving.live.index_lane import index_tenant_queue, stoppable

            self._index_batch_fn = index_tenant_queue
            self._embed_fn = stoppable(embed, self._stop)

    def _attempt(self, lane: Lane, tenant_id: str, report: PassReport, skip_failing: bool, **batch) -> None:
        """One batch of one tenant; a failure is logged and the tenant backs off (its rows stay queued)."""
        key = (lane, tenant_id)
        if skip_failing and self._retry_at.get(key, 0.0) > time.monotonic():
            return
        work = self._score_batch if lane == "score" else self._index_batch
        limit = batch.get("limit") or (self.score_batch if lane == "score" else self.index_batch)
        try:
            claimed = work(tenant_id, report, **batch)
        except Exception as error:
            if self._stop.is_set():   # stopping mid-batch: rolled back and still queued, not a failure
                log.info("%s lane: stopped in the middle of tenant %s's batch (%s); its rows stay queued",
                         lane, tenant_id, type(error).__name__)
                return
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            wait = min(MAX_RETRY_SECONDS, self.first_retry_seconds * 2.0 ** (failures - 1))
            self._retry_at[key] = time.monotonic() + wait
            report.failed.add(tenant_id)
            log.exception("%s lane: tenant %s failed (attempt %d); its rows stay queued, retry in %.0fs",
                          lane, tenant_id, failures, wait)
            return
        self._failures.pop(key, None)
        self._retry_at.pop(key, None)
        if claimed:
            report.claimed += claimed
            report.tenants.add(tenant_id)
            report.full |= claimed >= limit

    def _sweep(self, lane: Lane, report: PassReport, skip_failing: bool) -> None:
        """What arrived since the last look, newest first, for every tenant whose queue grew (tenants are listed
        anew: one with nothing queued when the pass began may have a change now)."""
        tenants = live_queue.pending_tenants(QUEUE_OF[lane])
        grown = {tenant_id: (self._seen.get((lane, tenant_id), 0), newest)
                 for tenant_id, newest in live_queue.high_water(QUEUE_OF[lane], tenants).items()
                 if newest > self._seen.get((lane, tenant_id), 0)}
        batch = {}
        if lane == "index" and len(grown) > 1:   # one embedding call for every tenant's new texts
            batch["embed_fn"] = self._embed_ahead({t: seen for t, (seen, _) in grown.items()})
        for tenant_id, (seen, newest) in grown.items():
            self._attempt(lane, tenant_id, report, skip_failing, limit=FRESH_LIMIT[lane], newer_than=seen, **batch)
            self._seen[(lane, tenant_id)] = newest   # the rest of a bulk arrival is backlog now

    def _embed_ahead(self, fresh: dict[str, int]):
        """`index_lane.embed_ahead` for these tenants' new arrivals, or (if reading or embedding them fails, or
        the refresher is stopping) the lane's own embedder: each tenant's batch then embeds its texts itself."""
        from serving.live.index_lane import embed_ahead

        self._index_setup()
        try:
            return embed_ahead(fresh, FRESH_LIMIT["index"], self._embed_fn)
        except Exception as error:
            log.info("index lane: embedding ahead for %d tenants failed (%s); each embeds its own",
                     len(fresh), type(error).__name__)
            return self._embed_fn

    def one_pass(self, lane: Lane, skip_failing: bool = True) -> PassReport:
        """One batch of every tenant with rows waiting in the lane's queue (failing ones skipped until their
        retry time), each preceded by a sweep of every tenant's new arrivals."""
        report = PassReport(lane)
        for tenant_id in live_queue.pending_tenants(QUEUE_OF[lane]):
            self._sweep(lane, report, skip_failing)
            self._attempt(lane, tenant_id, report, skip_failing)
        if report.claimed and self.on_report is not None:
            try:
                self.on_report(report)
            except Exception:   # reporting is a view of the work, never a reason to stop it
                log.exception("reporting the %s lane's pass failed", lane)
        return report

    # ---- running -----------------------------------------------------------------------------------------------

    def lane_loop(self, lane: Lane, stop: threading.Event) -> None:
        _lower_priority(lane)
        listener = None
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = self.one_pass(lane)
            except Exception:   # e.g. the database restarting: wait and try again
                log.exception("%s lane: pass failed", lane)
                report = PassReport(lane)
            if report.claimed:
                if not report.full:   # emptied: let the next writes gather into one batch per tenant
                    stop.wait(self.rest_seconds(time.monotonic() - started))
                continue   # more may be waiting: drain before sleeping
            listener = self._wait(listener, stop)
        if listener is not None:
            listener.close()

    def rest_seconds(self, pass_seconds: float) -> float:
        """The rest after a pass that emptied the queue: `rest_factor` times the pass, at most `max_rest_seconds`.
        The pass's wall time, so a busy machine (a pass waiting for a core) lengthens the rest too."""
        return min(self.max_rest_seconds, self.rest_factor * pass_seconds)

    def _wait(self, listener: live_queue.LiveListener | None, stop: threading.Event):
        """Sleep until a write is committed (NOTIFY), `poll_seconds` pass, or `stop` is set."""
        deadline = time.monotonic() + self.poll_seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            try:
                listener = listener or live_queue.LiveListener()
                if listener.wait(min(left, WAKE_CHECK_SECONDS)):
                    return listener
            except Exception:   # no LISTEN connection: fall back to polling
                log.warning("%s: cannot listen on %s, polling", type(self).__name__, live_queue.CHANNEL,
                            exc_info=True)
                if listener is not None:
                    listener.close()
                listener = None
                stop.wait(min(left, WAKE_CHECK_SECONDS))
        return listener

    def lanes(self) -> list[Lane]:
        return ["score", "index"]

    def run(self, stop: threading.Event, join_grace: float = 10.0) -> bool:
        """Both lanes until `stop` is set (or this thread is interrupted: SIGTERM, Ctrl-C). True when both lanes
        have stopped; False when one was still inside a batch after `join_grace` seconds (the caller must
        then end the process without the interpreter's shutdown, see `app.cli.refresher`)."""
        self._stop = stop
        threads = [threading.Thread(target=self.lane_loop, args=(lane, stop), name=f"refresher-{lane}", daemon=True)
                   for lane in self.lanes()]
        # a score batch in flight finishes (under a second), an index batch gives up at its next encode slice;
        # one still running after the grace is abandoned, and its open transaction rolls back when the process
        # exits (its rows stay queued)
        return run_until_stopped(threads, stop, join_grace, inside="a batch")

    def drain(self) -> dict:
        """Both lanes until their queues are empty (a failing tenant is tried once); the summary of it all."""
        summary: dict = {"claimed": 0, "refreshed": 0, "scored": 0, "indexed": 0, "tenants": [], "failed": []}
        tenants: set[str] = set()
        failed: set[str] = set()
        lags: list[float] = []
        for lane in self.lanes():
            while True:
                report = self.one_pass(lane)
                tenants |= report.tenants
                failed |= report.failed
                lags += report.lags
                if lane == "score":
                    summary["claimed"] += report.claimed
                    summary["refreshed"] += report.refreshed
                    summary["scored"] += report.scored
                else:
                    summary["indexed"] += report.claimed
                if not report.claimed:
                    break
        summary["tenants"], summary["failed"] = sorted(tenants), sorted(failed)
        summary["lag_p50_s"], summary["lag_p95_s"] = percentile(lags, 0.5), percentile(lags, 0.95)
        return summary


def _lower_priority(lane: Lane) -> None:
    """Lower this thread's CPU priority to the lane's nice value: when the cores are saturated, the web workers'
    answers come first (a refresh that waits takes more changes in its next batch, which costs less per change),
    and a backlog of embedding yields to the score lane and to a pipeline run as well."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LANE_NICE[lane])
    except (AttributeError, OSError):  # not Linux, or not allowed: same priority, still correct
        log.debug("could not lower the %s lane's priority", lane, exc_info=True)


def drain(queries: FeatureQueries, **kwargs) -> dict:
    """Run both lanes once to empty (tests, benches, `crm refresher --once`)."""
    return Refresher(queries, **kwargs).drain()

"""The workflow worker: three lanes that turn events into runs, run them, and deliver webhooks.

- the events lane claims record events and starts the runs and deliveries they call for
  (`serving.workflows.dispatch`), and every `scan_seconds` scans for quiet records and schedule slots
  (`serving.workflows.scans`);
- `run_threads` runs lanes execute queued runs and waiting runs whose time has come, up to `run_batch` at a time,
  a batch per agency (`serving.workflows.runner.run_due`; a run's advisory lock keeps two lanes, or two workers,
  off the same run). A batch spends part of its time waiting on PostgreSQL (round trips, commits), so several
  lanes overlap those waits;
- the deliveries lane sends due webhook deliveries (`crm.webhooks.delivery.deliver_due`).

They are threads because their waits differ: a webhook receiver that takes its full timeout, or an AI decision
step waiting on a model, must not hold back the dispatch of new events. Each lane drains its work before it
sleeps; it sleeps until a NOTIFY (`crm_events` at an event's commit, `crm_workflow_runs` when a run is queued),
a nudge from another lane in this process (a dispatch that queued deliveries, a run that sent one), or
`poll_seconds` (a run's `resume_at`, a delivery's retry time), whichever comes first. Stopping (`stop` set,
e.g. by SIGTERM) lets each lane finish the step it is in (a runs lane: its batch); nothing is left half done,
because every step of a run commits together with its effects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from crm.events import EVENTS_CHANNEL
from crm.live_queue import LiveListener
from crm.workflows.runs import CHANNEL as RUNS_CHANNEL
from serving.lanes import WAKE_CHECK_SECONDS, run_until_stopped
from serving.workflows.dispatch import DispatchReport, dispatch
from serving.workflows.scans import scan

log = logging.getLogger(__name__)
MAX_RETRY_SECONDS = 60.0    # a failing tenant's dispatch is retried after 2, 4, ... up to this many seconds
ONCE_ROUNDS = 10            # `drain`: rounds of dispatch + runs + deliveries at most (runs may emit events)


@dataclass
class WorkerTotals:
    """What the worker did since it started (or in one `drain`)."""
    events: int = 0            # record events dispatched
    runs_started: int = 0      # runs queued by events and scans
    runs_advanced: int = 0     # runs the runner took forward (to their end or their next wait)
    deliveries_queued: int = 0
    deliveries_sent: int = 0   # delivery attempts made (successful or not)
    tenants: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    def summary(self) -> dict:
        return {"events": self.events, "runs_started": self.runs_started, "runs_advanced": self.runs_advanced,
                "deliveries_queued": self.deliveries_queued, "deliveries_sent": self.deliveries_sent,
                "tenants": sorted(self.tenants), "failed": sorted(self.failed)}


def _run_due(limit: int) -> int:
    from serving.workflows.runner import run_due

    return run_due(limit)


def _deliver_due(limit: int) -> int:
    from crm.webhooks.delivery import deliver_due

    return deliver_due(limit)


class WorkflowWorker:
    def __init__(self, poll_seconds: float = 2.0, scan_seconds: float = 60.0, dispatch_batch: int = 500,
                 run_batch: int = 50, delivery_batch: int = 100, run_threads: int = 4, linger_seconds: float = 0.05,
                 run_fn: Callable[[int], int] = _run_due, deliver_fn: Callable[[int], int] = _deliver_due):
        self.poll_seconds, self.scan_seconds = poll_seconds, scan_seconds
        self.dispatch_batch, self.run_batch, self.delivery_batch = dispatch_batch, run_batch, delivery_batch
        self.run_fn, self.deliver_fn = run_fn, deliver_fn
        self.run_threads = max(1, run_threads)
        self.linger_seconds = linger_seconds
        self.totals = WorkerTotals()
        self._lock = threading.Lock()
        # lanes without a channel are woken by a nudge; the others by their NOTIFY
        self._nudge = {name: threading.Event() for name, (_, channels) in self.lanes().items() if not channels}
        self._next_scan = 0.0
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    # ---- one step of each lane ---------------------------------------------------------------------------

    def dispatch_step(self) -> int:
        """Dispatch one batch of every tenant with events (failing tenants skipped until their retry time), and
        scan when a scan is due; how many events and scanned runs there were."""
        now = time.monotonic()
        skip = {t for t, at in self._retry_at.items() if at > now}
        report = dispatch(self.dispatch_batch, skip=skip)
        self._back_off(report)
        scanned = 0
        if now >= self._next_scan:
            self._next_scan = now + self.scan_seconds
            found = scan()
            scanned = found.runs
            with self._lock:
                self.totals.runs_started += found.runs
                self.totals.tenants |= found.tenants
                self.totals.failed |= found.failed
        with self._lock:
            self.totals.events += report.events
            self.totals.runs_started += report.runs
            self.totals.deliveries_queued += report.deliveries
            self.totals.tenants |= report.tenants
        if report.deliveries:
            self._wake("deliveries")
        return report.events + scanned

    def _back_off(self, report: DispatchReport) -> None:
        for tenant in report.tenants:
            self._failures.pop(tenant, None)
            self._retry_at.pop(tenant, None)
        for tenant in report.failed:
            failures = self._failures.get(tenant, 0) + 1
            self._failures[tenant] = failures
            self._retry_at[tenant] = time.monotonic() + min(MAX_RETRY_SECONDS, 2.0 ** failures)
        with self._lock:
            self.totals.failed |= report.failed

    def runs_step(self) -> int:
        advanced = self.run_fn(self.run_batch)
        if advanced:
            with self._lock:
                self.totals.runs_advanced += advanced
            self._wake("deliveries")   # a send_webhook step queued a delivery, perhaps
        return advanced

    def deliveries_step(self) -> int:
        sent = self.deliver_fn(self.delivery_batch)
        if sent:
            with self._lock:
                self.totals.deliveries_sent += sent
        return sent

    # ---- running -----------------------------------------------------------------------------------------

    def lanes(self) -> dict[str, tuple[Callable[[], int], tuple[str, ...]]]:
        """lane name -> (its step, the channels that wake it)"""
        runs = {f"runs-{n}": (self.runs_step, (RUNS_CHANNEL,)) for n in range(1, self.run_threads + 1)}
        return {"events": (self.dispatch_step, (EVENTS_CHANNEL,)), **runs,
                "deliveries": (self.deliveries_step, ())}

    def _full_batch(self, name: str) -> int:
        if name == "events":
            return self.dispatch_batch
        return self.run_batch if name.startswith("runs") else self.delivery_batch

    def _wake(self, kind: str) -> None:
        for name, nudge in self._nudge.items():
            if name.startswith(kind):
                nudge.set()

    def lane_loop(self, name: str, stop: threading.Event) -> None:
        step, channels = self.lanes()[name]
        listener: LiveListener | None = None
        while not stop.is_set():
            try:
                did = step()
            except Exception:   # e.g. the database restarting: wait, then try again
                log.exception("workflow worker: %s lane step failed", name)
                did = 0
            if did:
                # more may be waiting: drain before sleeping. A step that took less than a full batch took what
                # had been committed since the one before: linger first, so a sustained stream of writes (and
                # of the runs' own writes, which are events too) is taken in batches, not a few rows a round
                if did < self._full_batch(name):
                    stop.wait(self.linger_seconds)
                continue
            listener = self._wait(name, channels, listener, stop)
            # Woken by one commit, linger a moment before the step: under a steady trickle of writes, stepping at
            # once takes one event and one run at a time (a transaction each, five commits a run), while after a
            # few tens of milliseconds the batch holds every write of that moment and its rounds are set-based.
            stop.wait(self.linger_seconds)
        if listener is not None:
            listener.close()

    def _wait(self, name: str, channels: tuple[str, ...], listener: LiveListener | None,
              stop: threading.Event) -> LiveListener | None:
        """Sleep until a NOTIFY on `channels` (a lane that has some) or a nudge from another lane (one that has
        none), `poll_seconds`, or `stop`."""
        nudge = self._nudge.get(name)
        deadline = time.monotonic() + self.poll_seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if nudge is not None and nudge.is_set():
                nudge.clear()
                return listener
            if not channels:
                (nudge or stop).wait(min(left, WAKE_CHECK_SECONDS))
                continue
            wait = min(left, WAKE_CHECK_SECONDS)
            try:
                listener = listener or LiveListener(*channels)
                if listener.wait(wait):
                    return listener
            except Exception:   # no LISTEN connection: fall back to polling
                log.warning("workflow worker: cannot listen on %s, polling", ", ".join(channels), exc_info=True)
                if listener is not None:
                    listener.close()
                listener = None
                stop.wait(wait)
        if nudge is not None:
            nudge.clear()
        return listener

    def run(self, stop: threading.Event, join_grace: float = 10.0) -> bool:
        """Every lane until `stop` is set; True when all stopped within `join_grace` seconds of it."""
        threads = [threading.Thread(target=self.lane_loop, args=(name, stop), name=f"workflows-{name}", daemon=True)
                   for name in self.lanes()]
        return run_until_stopped(threads, stop, join_grace, inside="a step")

    def drain(self) -> dict:
        """Until nothing is left to do now: every event dispatched, one scan, every due run taken forward, every
        due delivery attempted (repeated while runs emit new events); the totals (`crm workflows --once`)."""
        self._next_scan = 0.0
        for _ in range(ONCE_ROUNDS):
            did = 0
            while (n := self.dispatch_step()) > 0:
                did += n
            while (n := self.runs_step()) > 0:
                did += n
            while (n := self.deliveries_step()) > 0:
                did += n
            if not did:
                break
        return self.totals.summary()

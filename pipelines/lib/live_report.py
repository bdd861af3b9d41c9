"""The refresher shows its work in Dagster: runless materializations of the external asset `live_scores`.

The refresher runs outside Dagster (its lanes wake on every commit; a sensor ticks every 30 s at best), so it
reports what it did instead: at most once a minute, and only when something was refreshed, one
AssetMaterialization with entities refreshed, tenants, lag percentiles and the queues' depth. The data team
sees the live path beside the batch assets in the UI, with the metadata plotted over time.
"""

from __future__ import annotations

import logging
import threading
import time

from crm import live_queue
from pipelines.lib.instance import ensure_dagster_home
from serving.live.worker import PassReport, percentile

log = logging.getLogger(__name__)
LIVE_ASSET = "live_scores"


class LiveReporter:
    """Collects the refresher's passes (`on_report`) and reports them to the project's Dagster instance."""

    def __init__(self, min_interval: float = 60.0):
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._instance = None
        self._last = float("-inf")
        self._reset()
        self.reported = 0   # materializations written (observability, tests)

    def _reset(self) -> None:
        self._tenants: set[str] = set()
        self._refreshed = self._scored = self._changes = self._indexed = 0
        self._lags: list[float] = []

    def __call__(self, report: PassReport) -> None:
        with self._lock:
            self._tenants |= report.tenants
            if report.lane == "score":
                self._changes += report.claimed
                self._refreshed += report.refreshed
                self._scored += report.scored
                self._lags += report.lags
            else:
                self._indexed += report.claimed
            due = time.monotonic() - self._last >= self.min_interval
        if due:
            self.flush()

    def flush(self) -> bool:
        """Report what was collected since the last report, if anything; True when a materialization was written."""
        from dagster import AssetMaterialization, DagsterInstance, MetadataValue

        with self._lock:
            if not (self._changes or self._indexed):
                return False
            depth = live_queue.total_depth()
            metadata = {
                "entities_refreshed": self._refreshed,
                "entities_scored": self._scored,
                "changes_consumed": self._changes,
                "sources_indexed": self._indexed,
                "tenants": len(self._tenants),
                "lag_p50_seconds": MetadataValue.float(percentile(self._lags, 0.5) or 0.0),
                "lag_p95_seconds": MetadataValue.float(percentile(self._lags, 0.95) or 0.0),
                "refresh_queue_depth": depth["refresh"],
                "index_queue_depth": depth["index"],
            }
            if self._instance is None:
                ensure_dagster_home()
                self._instance = DagsterInstance.get()
            self._instance.report_runless_asset_event(AssetMaterialization(
                asset_key=LIVE_ASSET, description="refreshed by `crm refresher`", metadata=metadata))
            self._last = time.monotonic()
            self.reported += 1
            self._reset()
        log.info("reported %s to Dagster: %s", LIVE_ASSET, metadata)
        return True

    def close(self) -> None:
        self.flush()
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None

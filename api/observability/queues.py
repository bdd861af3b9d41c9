"""Live refresh queue depths for /metrics, read through the admin engine at scrape time.

Counted at most once per CACHE_SECONDS per worker, so frequent scrapes do not load the database. The
depth per tenant shows whose writes the live lanes are behind on.
"""

from __future__ import annotations

import time

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from crm.db.engine import admin_engine
from crm.live_queue import TABLES

CACHE_SECONDS = 5.0
_COUNT = " union all ".join(
    f"select '{queue}', cast(tenant_id as text), count(*) from {table} group by tenant_id"
    for queue, table in TABLES.items())


class QueueDepths:
    """A prometheus_client collector: crm_live_queue_depth{queue} and crm_live_queue_depth_by_tenant."""

    def __init__(self) -> None:
        self._read_at = float("-inf")
        self._rows: list[tuple[str, str, int]] | None = None

    def _counts(self) -> list[tuple[str, str, int]] | None:
        now = time.monotonic()
        if now - self._read_at >= CACHE_SECONDS:
            self._read_at = now
            try:
                with admin_engine().connect() as conn:
                    self._rows = [tuple(r) for r in conn.execute(text(_COUNT))]
            except Exception:  # a scrape still answers (without depths) when the database does not
                self._rows = None
        return self._rows

    def collect(self):
        rows = self._counts()
        if rows is None:
            return
        total = GaugeMetricFamily("crm_live_queue_depth", "Rows waiting in a live refresh queue", labels=["queue"])
        by_tenant = GaugeMetricFamily("crm_live_queue_depth_by_tenant", "Rows waiting in a live refresh queue, "
                                      "by tenant id", labels=["queue", "tenant"])
        for queue in TABLES:
            total.add_metric([queue], sum(n for q, _, n in rows if q == queue))
        for queue, tenant, n in rows:
            by_tenant.add_metric([queue, tenant], n)
        yield total
        yield by_tenant

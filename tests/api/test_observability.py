"""Request ids, the access log line and /metrics on the real app and PostgreSQL.

Counters live for the whole test process, so each test compares a counter before and after its own calls.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from api.observability.access_log import ACCESS_LOGGER
from api.observability.queues import QueueDepths
from crm.db import timing
from crm.db.engine import app_engine, tenant_session
from crm.scores import refresh

CONTACT_ROUTE = "/api/v1/contacts/{id}"


def samples(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics (fetched without credentials) by (name, labels)."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(snapshot, name: str, **labels) -> float:
    return snapshot.get((name, frozenset(labels.items())), 0.0)


def requests_counted(snapshot, route: str, status: int, tenant: str = "", method: str = "GET") -> float:
    return value(snapshot, "crm_http_requests_total", method=method, route=route, status=str(status), tenant=tenant)


def access_lines(caplog, request_id: str) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records
            if r.name == ACCESS_LOGGER and r.access["request_id"] == request_id]


def test_request_id_is_echoed_or_generated(client):
    mine = "trace-42:abc/DEF.1"
    assert client.get("/healthz", headers={"X-Request-ID": mine}).headers["x-request-id"] == mine
    generated = {client.get("/healthz").headers["x-request-id"] for _ in range(2)}
    assert len(generated) == 2 and all(len(g) == 32 for g in generated)
    for unsafe in ("has space", "x" * 129, "quote\"s"):
        echoed = client.get("/healthz", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert echoed != unsafe and len(echoed) == 32
    # errors carry it too (the observer wraps the whole stack)
    assert client.get("/api/v1/contacts", headers={"X-Request-ID": mine}).headers["x-request-id"] == mine


def test_an_authenticated_read_logs_one_line_with_tenant_key_and_database_time(api, tenant, caplog):
    contact = api.contact("log@example.com")
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    rid = uuid.uuid4().hex
    assert api.get(f"/contacts/{contact['id']}", headers={"X-Request-ID": rid}).status_code == 200
    [line] = access_lines(caplog, rid)
    assert line["tenant_id"] == tenant["tenant_id"]
    assert uuid.UUID(line["key_id"]) and line["user_id"] is None
    assert line["db_ms"] > 0 and line["duration_ms"] >= line["db_ms"]
    assert (line["method"], line["path"], line["status"]) == ("GET", CONTACT_ROUTE, 200)
    assert contact["id"] not in json.dumps(line)
    assert {"ts", "client"} <= set(line)


def test_metrics_count_a_read_under_its_route_template_and_tenant(client, api, tenant):
    contact = api.contact("metrics@example.com")
    before = samples(client)
    for _ in range(3):
        assert api.get(f"/contacts/{contact['id']}").status_code == 200
    after = samples(client)
    tid = tenant["tenant_id"]
    assert requests_counted(after, CONTACT_ROUTE, 200, tid) - requests_counted(before, CONTACT_ROUTE, 200, tid) == 3
    count = "crm_http_request_duration_seconds_count"
    assert value(after, count, method="GET", route=CONTACT_ROUTE) - value(before, count, method="GET",
                                                                           route=CONTACT_ROUTE) >= 3
    assert value(after, "crm_db_seconds_total", route=CONTACT_ROUTE, tenant=tid) > \
        value(before, "crm_db_seconds_total", route=CONTACT_ROUTE, tenant=tid)
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(contact["id"] in str(r) for r in routes)
    assert "/metrics" in routes  # the scrape itself is a request


def test_not_found_and_unauthorized_are_counted_with_their_status(client, api, tenant):
    tid = tenant["tenant_id"]
    before = samples(client)
    assert api.get(f"/contacts/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/api/v1/contacts/{uuid.uuid4()}",
                      headers={"Authorization": "Bearer not-a-key"}).status_code == 401
    assert client.get(f"/no/such/page/{uuid.uuid4()}").status_code == 404
    after = samples(client)
    assert requests_counted(after, CONTACT_ROUTE, 404, tid) - requests_counted(before, CONTACT_ROUTE, 404, tid) == 1
    assert requests_counted(after, CONTACT_ROUTE, 401) - requests_counted(before, CONTACT_ROUTE, 401) == 1
    assert requests_counted(after, "unmatched", 404) - requests_counted(before, "unmatched", 404) == 1


def _score(tenant_id: str, entity_type: str, entity_id: str) -> None:
    with tenant_session(tenant_id) as s:
        refresh(s, entity_type, [{
            "entity_id": entity_id, "score": 71, "probability": 0.71, "tier": "B", "factors": "[]",
            "model_name": "lead_score", "model_version": "1", "model_kind": "learned",
            "scored_at": "2026-11-20T09:00:00+00:00"}], [])


def test_scores_served_are_counted_by_kind_and_tenant(client, api, tenant):
    tid = tenant["tenant_id"]
    contact = api.contact("scored@example.com")
    _score(tid, "lead", contact["id"])
    before = samples(client)
    assert api.get(f"/scores/leads/{contact['id']}").status_code == 200
    assert api.get(f"/scores/leads/{uuid.uuid4()}").status_code == 404  # not a score served
    after = samples(client)
    served = "crm_scores_served_total"
    assert value(after, served, kind="lead", tenant=tid) - value(before, served, kind="lead", tenant=tid) == 1
    assert value(after, served, kind="account", tenant=tid) == value(before, served, kind="account", tenant=tid)


def test_metrics_show_pools_slots_and_queue_depths(client):
    with app_engine().connect():  # held while the scrape samples the pool
        snapshot = samples(client)
    assert value(snapshot, "crm_db_pool_in_use", pool="app") >= 1
    assert value(snapshot, "crm_db_pool_size", pool="app") >= value(snapshot, "crm_db_pool_in_use", pool="app")
    assert ("crm_db_slot_waiting", frozenset()) in snapshot
    assert value(snapshot, "crm_http_requests_in_flight") >= 1  # the scrape
    for queue in ("refresh", "index"):
        assert ("crm_live_queue_depth", frozenset({("queue", queue)})) in snapshot


def test_queue_depths_are_counted_per_tenant(api, tenant):
    api.contact("queued@example.com")  # a write queues a live refresh of the contact
    families = {f.name: f for f in QueueDepths().collect()}  # a fresh collector: /metrics caches for seconds
    by_tenant = {tuple(s.labels.values()): s.value for s in families["crm_live_queue_depth_by_tenant"].samples}
    assert by_tenant[("refresh", tenant["tenant_id"])] >= 1
    totals = {s.labels["queue"]: s.value for s in families["crm_live_queue_depth"].samples}
    assert totals["refresh"] >= by_tenant[("refresh", tenant["tenant_id"])]


def test_database_time_is_shared_across_thread_hops():
    """The holder is one object: statements run in a thread (a copy of the context) add to the request's total."""
    import contextvars

    db_time, token = timing.begin()
    try:
        def query():
            with app_engine().connect() as conn:
                conn.execute(text("select pg_sleep(0.02)"))

        worker = threading.Thread(target=contextvars.copy_context().run, args=(query,))
        worker.start()
        worker.join()
        assert timing.current() == db_time.seconds >= 0.02
    finally:
        timing.end(token)
    assert timing.current() == 0.0  # outside a request nothing is counted


MULTIPROCESS = """
import os, sys
from pathlib import Path
from api.observability.multiprocess import prepare_multiprocess
prepare_multiprocess(Path(sys.argv[1]))
if os.fork() == 0:   # a worker that counts and dies
    from api.observability import metrics
    metrics.REQUESTS.labels("GET", "/x", "200", "t").inc(2)
    metrics.process.in_flight = 5
    metrics.process.sample()
    os._exit(0)
os.wait()
from api.observability import metrics
from prometheus_client import CollectorRegistry
metrics.REQUESTS.labels("GET", "/x", "200", "t").inc()
sys.stdout.write(metrics.render(CollectorRegistry()).decode())
"""


def test_several_workers_share_counters_and_a_dead_worker_leaves_the_gauges(tmp_path):
    out = subprocess.run([sys.executable, "-c", MULTIPROCESS, str(tmp_path / "prom")], capture_output=True,
                         text=True, check=True).stdout
    snapshot = {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(out) for s in family.samples}
    assert value(snapshot, "crm_http_requests_total", method="GET", route="/x", status="200", tenant="t") == 3
    assert snapshot[("crm_http_requests_in_flight", frozenset())] == 0  # the dead worker's 5 is gone
    assert snapshot[("crm_db_slot_waiting", frozenset())] == 0


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_operator_endpoints_need_no_key(client, path):
    assert client.get(path).status_code == 200


SERVE_LOGGING = r"""
import json, logging, logging.config, sys
from api.observability import access_log
logging.config.dictConfig(access_log.uvicorn_log_config())   # what `crm serve` hands uvicorn
direct = access_log._direct_sink() is not None
for i in range(3):
    access_log.write({"request_id": f"r{i}", "status": 200, "path": "/api/v1/contacts/{id}"})
access_log.log.handlers[0].addFilter(lambda record: record.access["status"] != 404)   # a set-up of its own
filtered = access_log._direct_sink() is None
access_log.write({"request_id": "r3", "status": 503})
access_log.write({"request_id": "r4", "status": 404})
logging.shutdown()
print(json.dumps({"direct": direct, "filtered": filtered}))
"""


def test_access_lines_under_crm_serves_logging_are_written_whole_as_logging_would():
    out = subprocess.run([sys.executable, "-c", SERVE_LOGGING], capture_output=True, text=True, check=True).stdout
    *lines, last = out.splitlines()
    assert json.loads(last) == {"direct": True, "filtered": True}   # the direct line; a filter goes via logging
    assert [json.loads(line) for line in lines] == [
        {"request_id": "r0", "status": 200, "path": "/api/v1/contacts/{id}"},
        {"request_id": "r1", "status": 200, "path": "/api/v1/contacts/{id}"},
        {"request_id": "r2", "status": 200, "path": "/api/v1/contacts/{id}"},
        {"request_id": "r3", "status": 503},   # the filter's own set-up keeps working: r4 is filtered out
    ]

"""The refresher (serving.live.worker) on real PostgreSQL and the real compiled feature SQL (no champion model
here: features only, which is what a fresh install serves): it drains both queues, wakes on NOTIFY, keeps
going when one tenant fails, and reports its passes."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import text

from crm import live_queue
from crm.db.engine import tenant_session
from crm.live_features import FeatureQueries
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.schemas.notes import NoteCreate
from crm.services import companies, contacts, notes
from serving.live.worker import PassReport, Refresher, drain, percentile
from tests.conftest import make_tenant


@pytest.fixture(scope="module")
def queries() -> FeatureQueries:
    from pipelines.lib.live_sql import feature_queries

    return feature_queries()


@pytest.fixture
def only(monkeypatch):
    """`only(*tenants)`: the refresher sees these tenants' queues alone. The other test files of this worker
    leave rows queued for their agencies (texts to embed, bulk writes); a drain of all of them made the first
    test here take minutes, and what it measured depended on what ran before it."""
    everyone = live_queue.pending_tenants

    def restrict(*tenants: str) -> None:
        wanted = {str(t) for t in tenants}
        monkeypatch.setattr(live_queue, "pending_tenants",
                            lambda queue: [t for t in everyone(queue) if str(t) in wanted])
    return restrict


def _lead_with_note(tenant_id: str) -> uuid.UUID:
    with tenant_session(tenant_id) as s:
        company = companies.create(s, CompanyCreate(name="Acme"))
        contact = contacts.create(s, ContactCreate(email=f"{uuid.uuid4().hex[:8]}@example.com",
                                                   company_id=company.id))
        notes.create(s, NoteCreate(body="Great call, they want a proposal.", contact_id=contact.id))
        return contact.id


def _waiting(tenant_id: str) -> dict:
    with tenant_session(tenant_id) as s:
        return {q: d["rows"] for q, d in live_queue.depth(s).items()}


def _features_of(tenant_id: str, contact_id) -> dict | None:
    with tenant_session(tenant_id) as s:
        return s.execute(text("select features from analytics.features_latest where entity_type = 'lead' "
                              "and entity_id = :i"), {"i": contact_id}).scalar()


def test_drain_empties_both_queues_and_publishes_features_as_of_now(queries, only):
    a, b = make_tenant("Drain A")["tenant_id"], make_tenant("Drain B")["tenant_id"]
    only(a, b)
    lead_a, lead_b = _lead_with_note(a), _lead_with_note(b)
    reports: list[PassReport] = []
    summary = drain(queries, score_batch=2, on_report=reports.append)   # small batches: several passes
    assert {a, b} <= set(summary["tenants"]) and not {a, b} & set(summary["failed"])
    assert summary["claimed"] >= 8 and summary["refreshed"] >= 2 and summary["indexed"] >= 2   # a lead each
    assert summary["lag_p50_s"] is not None and summary["lag_p95_s"] >= summary["lag_p50_s"]
    assert _waiting(a) == _waiting(b) == {"refresh": 0, "index": 0}
    assert _features_of(a, lead_a) is not None and _features_of(b, lead_b) is not None
    assert {r.lane for r in reports} == {"score", "index"} and all(r.claimed for r in reports)
    assert not {a, b} & set(drain(queries)["tenants"])   # nothing of theirs left to do


class _FailsFor(Refresher):
    """Fault injection: the score batch of one tenant raises (as a broken row or a lost connection would);
    every other tenant runs the real batch."""

    def __init__(self, queries, failing: str, **kw):
        super().__init__(queries, **kw)
        self.failing = failing

    def _score_batch(self, tenant_id, report, **batch):
        if tenant_id == self.failing:
            raise RuntimeError("this tenant's refresh broke")
        return super()._score_batch(tenant_id, report, **batch)


def test_one_tenants_failure_leaves_its_rows_and_never_stops_the_others(queries, only):
    bad, good = make_tenant("Broken")["tenant_id"], make_tenant("Fine")["tenant_id"]
    only(bad, good)
    _lead_with_note(bad)
    lead = _lead_with_note(good)
    refresher = _FailsFor(queries, failing=bad, first_retry_seconds=3600)
    summary = refresher.drain()
    assert bad in summary["failed"] and good in summary["tenants"]
    assert _waiting(bad)["refresh"] > 0 and _waiting(good)["refresh"] == 0
    assert _features_of(good, lead) is not None
    assert bad not in refresher.one_pass("score").failed   # backing off: not retried at once
    assert bad not in Refresher(queries).drain()["failed"] and _waiting(bad)["refresh"] == 0   # recovered later


def test_run_wakes_on_a_committed_write_and_stops_on_request(queries, only):
    tenant = make_tenant("Awake")["tenant_id"]
    only(tenant)
    stop = threading.Event()
    # a poll this long means only the NOTIFY of the write can wake the lanes within the test's patience
    refresher = Refresher(queries, poll_seconds=600)
    runner = threading.Thread(target=refresher.run, args=(stop,))
    runner.start()
    try:
        time.sleep(1.5)   # both lanes are asleep on LISTEN now
        lead = _lead_with_note(tenant)
        deadline = time.monotonic() + 120
        while _waiting(tenant) != {"refresh": 0, "index": 0} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _waiting(tenant) == {"refresh": 0, "index": 0}
        assert _features_of(tenant, lead) is not None
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("refresher-")]


def test_stopping_inside_an_index_backlog_gives_up_at_the_next_encode_slice_and_keeps_its_rows(queries, only,
                                                                                                 monkeypatch):
    """A process must not exit while a lane is inside torch (exit -6 at interpreter shutdown): `stop` ends an
    embedding batch between encode slices, the batch rolls back and its notes stay queued for the next run."""
    import serving.embeddings as embeddings

    tenant = make_tenant("Stop mid-embed")["tenant_id"]
    only(tenant)
    sentences = " ".join(f"On call {i} they asked about reporting dashboards for the {i}th region." for i in range(12))
    with tenant_session(tenant) as s:
        contact = contacts.create(s, ContactCreate(email=f"{uuid.uuid4().hex[:8]}@example.com"))
        for _ in range(40):
            notes.create(s, NoteCreate(body=sentences, contact_id=contact.id))
    queued = _waiting(tenant)["index"]
    real_embed, slices, inside = embeddings.embed, [], threading.Event()

    def observed(texts, *args, **kwargs):   # the real encoder, watched
        slices.append(len(texts))
        inside.set()
        return real_embed(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings, "embed", observed)
    stop, result = threading.Event(), {}
    refresher = Refresher(queries, poll_seconds=600)
    runner = threading.Thread(target=lambda: result.update(stopped=refresher.run(stop, join_grace=60)))
    runner.start()
    try:
        assert inside.wait(120), "the index lane never embedded"
    finally:
        stop.set()
        runner.join(90)
    assert result == {"stopped": True} and not runner.is_alive()
    from serving.live.worker import FRESH_LIMIT
    from serving.rag.chunking import chunk_text

    first_batch = FRESH_LIMIT["index"] * len(chunk_text(sentences))   # the sweep's batch of the newest notes
    assert first_batch > embeddings.BATCH_SIZE and sum(slices) < first_batch   # given up part way
    assert _waiting(tenant)["index"] == queued   # rolled back: nothing taken off the queue
    drain(queries)
    assert _waiting(tenant)["index"] == 0


def test_percentile():
    assert percentile([], 0.5) is None and percentile([3.0], 0.95) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 0.5) == pytest.approx(50.5)
    assert percentile([float(i) for i in range(1, 101)], 0.95) == pytest.approx(95.05)


def _backlog(tenant_id: str, companies: int) -> None:
    with tenant_session(tenant_id) as s:   # a bulk import: every row queued in one statement
        s.execute(text("insert into companies (tenant_id, name) select app_tenant_id(), 'bulk ' || g "
                       "from generate_series(1, :n) g"), {"n": companies})


class _WritesAfterItsFirstBacklogBatch(Refresher):
    """A user writes to the agency whose backlog batch the pass just took: without a sweep that change would
    wait for the next pass over every agency's backlog."""

    written: tuple[str, uuid.UUID] | None = None

    def _score_batch(self, tenant_id, report, **batch):
        claimed = super()._score_batch(tenant_id, report, **batch)
        if batch.get("newer_than") is None and self.written is None:
            self.written = (tenant_id, _lead_with_note(tenant_id))
        return claimed


def test_a_change_written_during_every_agencys_backlog_waits_for_one_batch_not_for_the_backlogs(queries, only):
    tenants = [make_tenant(f"Backlog {n}")["tenant_id"] for n in "AB"]
    only(*tenants)
    for tenant_id in tenants:
        _backlog(tenant_id, 400)
    refresher = _WritesAfterItsFirstBacklogBatch(queries, score_batch=20)
    refresher.one_pass("score")
    tenant_id, lead = refresher.written
    assert _features_of(tenant_id, lead) is not None   # refreshed by the sweep before the next agency's batch
    assert _waiting(tenant_id)["refresh"] > 200 and all(_waiting(t)["refresh"] > 200 for t in tenants)


def _score_lane(queries, tenant_id: str, only, **kwargs) -> tuple[Refresher, list[PassReport]]:
    """A refresher whose passes see only `tenant_id`, and the reports of its passes."""
    only(tenant_id)
    reports: list[PassReport] = []
    return Refresher(queries, poll_seconds=600, on_report=reports.append, **kwargs), reports


def _until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert condition()


def test_writes_arriving_while_the_lane_rests_after_emptying_the_queue_are_refreshed_in_one_pass(queries, only):
    tenant = make_tenant("Steady stream")["tenant_id"]
    refresher, reports = _score_lane(queries, tenant, only, rest_factor=1e6, max_rest_seconds=3.0)
    stop = threading.Event()
    lane = threading.Thread(target=refresher.lane_loop, args=("score", stop))
    lane.start()
    try:
        first = _lead_with_note(tenant)
        _until(lambda: len(reports) == 1)   # refreshed at once: a single change on a quiet queue waits for nothing
        assert _features_of(tenant, first) is not None
        later = [_lead_with_note(tenant), _lead_with_note(tenant)]   # two transactions during the rest
        _until(lambda: _waiting(tenant)["refresh"] == 0)
        assert all(_features_of(tenant, lead) is not None for lead in later)
        assert len(reports) == 2   # both in the pass after the rest, not a pass each
    finally:
        stop.set()
        lane.join(30)
    assert not lane.is_alive()


def test_a_backlog_is_worked_off_without_rests(queries, only):
    tenant = make_tenant("Backlog, no rest")["tenant_id"]
    _backlog(tenant, 250)   # every batch comes back full: the sweep's (FRESH_LIMIT rows), then the backlog's
    refresher, reports = _score_lane(queries, tenant, only, score_batch=50, rest_factor=1e6, max_rest_seconds=600)
    stop = threading.Event()
    lane = threading.Thread(target=refresher.lane_loop, args=("score", stop))
    lane.start()
    try:
        _until(lambda: _waiting(tenant)["refresh"] == 0)   # a rest after the full pass would last ten minutes
        assert len(reports) >= 2 and all(report.full for report in reports)
    finally:
        stop.set()
        lane.join(30)
    assert not lane.is_alive()


def test_each_lane_works_at_its_lower_priority_and_leaves_the_process_at_its_own(monkeypatch):
    """The lanes are background work: under saturated cores the web workers come first (nice is per thread)."""
    import os

    from serving.live.worker import LANE_NICE

    seen: dict[str, int] = {}

    def one_pass(self, lane, skip_failing=True):
        seen[lane] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        stop.set()
        return PassReport(lane)

    monkeypatch.setattr(Refresher, "one_pass", one_pass)
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    refresher = Refresher(FeatureQueries("", "", ""))
    for lane in ("score", "index"):
        stop = threading.Event()
        lane_thread = threading.Thread(target=refresher.lane_loop, args=(lane, stop))
        lane_thread.start()
        lane_thread.join(10)
        assert not lane_thread.is_alive()
    assert seen == {"score": max(own, LANE_NICE["score"]), "index": max(own, LANE_NICE["index"])}
    assert LANE_NICE["index"] > LANE_NICE["score"] > 0   # embedding yields to scoring, both to the requests
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own

"""The refresher's index lane: queued notes/activities become passages; a crash repeats work, never loses it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm.db.engine import tenant_session
from serving.live.index_lane import embed_ahead, index_progress, index_tenant_queue
from serving.rag.indexer import index_sources
from serving.rag.store import open_table, tenant_filter
from tests.serving.rag_factory import TenantData
from tests.serving.test_rag_index import CountingEmbedder


def _passages(tenant_id: str) -> dict[str, list[str]]:
    table = open_table()
    if table is None:
        return {}
    rows = (table.search().where(tenant_filter(tenant_id)).select(["source_id", "chunk_index", "text"])
            .limit(None).to_list())
    out: dict[str, list[tuple[int, str]]] = {}
    for r in rows:
        out.setdefault(r["source_id"], []).append((r["chunk_index"], r["text"]))
    return {k: [t for _, t in sorted(v)] for k, v in out.items()}


def _queued(tenant_id: str) -> int:
    with tenant_session(tenant_id) as s:
        return s.execute(text("select count(*) from live_index_queue")).scalar_one()


def _drain(tenant_id: str, embed_fn, limit: int = 256) -> int:
    total = 0
    while n := index_tenant_queue(tenant_id, limit, embed_fn):
        total += n
    return total


def test_written_texts_are_indexed_changed_relinked_and_deleted(tenant):
    t = tenant["tenant_id"]
    data = TenantData(t)
    acme = data.company("Acme")
    ann, bob = data.contact("ann@acme.test", acme), data.contact("bob@acme.test", acme)
    note = data.note("Ann wants the rebrand launched before the trade fair in March.", contact_id=ann)
    mail = data.activity("email_replied", "We also talk to Northwind about SEO.", subject="Re: offer", contact_id=bob)
    data.activity("web_visit", "visited /pricing", contact_id=ann)  # queued, but never a passage
    assert _queued(t) == 3 and index_progress(t)["queued"] == 3

    first = CountingEmbedder()
    assert index_tenant_queue(t, 2, first) == 2  # the limit holds
    assert _drain(t, first) == 1
    assert set(_passages(t)) == {note, mail} and _queued(t) == 0
    assert len(first.texts) == 2
    progress = index_progress(t)
    assert (progress["queued"], progress["indexed_sources"], progress["oldest_queued_at"]) == (0, 2, None)

    data.execute("update notes set body = :b where id = :i", b="Ann moved the launch to April.", i=note)
    data.execute("update activities set contact_id = :c where id = :i", c=ann, i=mail)  # same text, relinked
    second = CountingEmbedder()
    _drain(t, second)
    assert second.texts == ["Ann moved the launch to April."]
    row = open_table().search().where(f"{tenant_filter(t)} and source_id = '{mail}'").limit(None).to_list()
    assert {r["contact_id"] for r in row} == {ann}

    data.execute("delete from notes where id = :i", i=note)
    data.execute("update activities set type = 'web_visit' where id = :i", i=mail)  # no longer an indexed type
    _drain(t, CountingEmbedder())
    assert _passages(t) == {} and _queued(t) == 0


def test_a_crash_before_forgetting_repeats_the_batch_without_embedding_twice(tenant):
    t = tenant["tenant_id"]
    data = TenantData(t)
    note = data.note("The client asked for a quarterly board report. It must include paid social results.")

    def broken(texts):
        raise RuntimeError("embedder died mid-batch")

    with pytest.raises(RuntimeError):
        index_tenant_queue(t, 256, broken)
    assert _queued(t) == 1 and _passages(t) == {}  # the claim rolled back: nothing lost

    # LanceDB written, then killed before the queue rows were removed
    with tenant_session(t) as s:
        index_sources(s, {("note", note)}, CountingEmbedder())
    stored = _passages(t)[note]
    assert _queued(t) == 1

    again = CountingEmbedder()
    assert index_tenant_queue(t, 256, again) == 1
    assert again.texts == [] and _passages(t) == {note: stored} and _queued(t) == 0


def test_one_tenants_queue_and_progress_are_its_own(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    mine = TenantData(a).note("Budget approved for the spring campaign.")
    theirs = TenantData(b).note("Their note about a summer campaign.")
    assert index_tenant_queue(a, 256, CountingEmbedder()) == 1
    assert _queued(b) == 1 and set(_passages(a)) == {mine} and _passages(b) == {}
    assert index_progress(b)["queued"] == 1 and index_progress(b)["indexed_sources"] == 0
    everyone = index_progress(None)
    assert everyone["queued"] >= 1 and everyone["indexed_sources"] >= 1
    with tenant_session(a) as s:  # a tenant session never sees the other's queued ids, even by naming them
        assert index_sources(s, {("note", theirs)}, CountingEmbedder()).sources == 0
    assert set(_passages(a)) == {mine}


class CallCounter(CountingEmbedder):
    """The real embedder, counting its calls too."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        return super().__call__(texts)


def test_new_texts_of_several_agencies_are_embedded_in_one_call_and_land_each_in_its_own(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    note_a = TenantData(a).note("Agency A's client wants the spring campaign live by May.")
    note_b = TenantData(b).note("Agency B's client cut the paid social budget in half.")
    counting = CallCounter()
    ahead = embed_ahead({a: 0, b: 0}, 32, counting)
    assert counting.calls == 1 and sorted(counting.texts) == sorted([
        "Agency A's client wants the spring campaign live by May.",
        "Agency B's client cut the paid social budget in half."])

    assert index_tenant_queue(a, 32, ahead, newer_than=0) == 1
    assert index_tenant_queue(b, 32, ahead, newer_than=0) == 1
    assert counting.calls == 1   # both batches answered from what was embedded ahead
    assert set(_passages(a)) == {note_a} and set(_passages(b)) == {note_b}   # each in its own agency
    again = CountingEmbedder()
    with tenant_session(a) as s:
        index_sources(s, {("note", note_a)}, again)   # stored with its text's hash: nothing to embed again
    assert again.texts == []


def test_a_text_not_embedded_ahead_is_embedded_by_its_batch(tenant):
    t = tenant["tenant_id"]
    first = TenantData(t).note("The first note, read ahead.")
    counting = CallCounter()
    ahead = embed_ahead({t: 0}, 32, counting)
    later = TenantData(t).note("A note written after the read ahead.")
    assert index_tenant_queue(t, 32, ahead, newer_than=0) == 2
    assert counting.calls == 2 and counting.texts[-1:] == ["A note written after the read ahead."]
    assert set(_passages(t)) == {first, later}

"""The RAG index: what gets indexed, incremental re-runs (counted embeddings), relinks and deletions."""

from __future__ import annotations

from datetime import UTC, date, datetime

from serving.embeddings import embed
from serving.rag.chunking import chunk_text, strip_quoted
from serving.rag.indexer import index_tenant
from serving.rag.retrieve import date_filter, question_dates, search, without_names
from serving.rag.store import open_table, tenant_filter
from tests.serving.rag_factory import TenantData


class CountingEmbedder:
    """The real embedder, counting every text it is asked to embed."""

    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts.extend(texts)
        return embed(texts)


def _indexed_ids(tenant_id: str) -> set[str]:
    rows = open_table().search().where(tenant_filter(tenant_id)).select(["source_id"]).limit(None).to_list()
    return {r["source_id"] for r in rows}


def test_second_run_embeds_nothing_and_changes_are_carried(tenant):
    data = TenantData(tenant["tenant_id"])
    acme = data.company("Acme Analytics")
    ann = data.contact("ann@acme.test", acme, "Ann")
    bob = data.contact("bob@acme.test", acme, "Bob")
    n1 = data.note("Ann said the budget for the rebrand is capped at 40k this quarter.", contact_id=ann)
    n2 = data.note("Bob prefers monthly reporting calls on Tuesdays.", contact_id=bob)
    mail = data.activity("email_replied", "Thanks, we are also talking to Brightwave Media about SEO.",
                         subject="Re: proposal", contact_id=ann)
    call = data.activity("call", "Call summary: they want a paid social pilot before signing.", contact_id=bob)
    data.activity("web_visit", "visited /pricing", contact_id=ann)  # not conversational: never indexed

    first = CountingEmbedder()
    run = index_tenant(tenant["tenant_id"], first)
    assert run.embedded_sources == 4 and len(first.texts) == run.embedded_chunks == 4
    assert _indexed_ids(tenant["tenant_id"]) == {n1, n2, mail, call}

    second = CountingEmbedder()
    run = index_tenant(tenant["tenant_id"], second)
    assert second.texts == [] and run.embedded_sources == 0 and run.deleted_sources == 0

    # One changed text is embedded again; a relinked note (same text, another contact) is not.
    data.execute("update notes set body = :b where id = :id", b="Ann raised the rebrand budget to 55k.", id=n1)
    data.execute("update notes set contact_id = :c where id = :id", c=ann, id=n2)
    data.execute("delete from activities where id = :id", id=call)
    third = CountingEmbedder()
    run = index_tenant(tenant["tenant_id"], third)
    assert third.texts == ["Ann raised the rebrand budget to 55k."]
    assert (run.relinked_sources, run.deleted_sources) == (1, 1)
    assert _indexed_ids(tenant["tenant_id"]) == {n1, n2, mail}

    hits = search(tenant["tenant_id"], "monthly reporting calls", contact_id=ann, k=5)
    assert n2 in {h.source_id for h in hits}
    assert all(h.contact_id == ann for h in hits)
    budget = search(tenant["tenant_id"], "rebrand budget", k=5, mode="fts")
    assert [h.text for h in budget if h.source_id == n1] == ["Ann raised the rebrand budget to 55k."]


def test_company_filter_finds_notes_written_on_its_contacts(tenant):
    data = TenantData(tenant["tenant_id"])
    acme, other = data.company("Acme"), data.company("Globex")
    ann = data.contact("ann@acme.test", acme)
    note = data.note("Ann mentioned Northwind Agency as the incumbent.", contact_id=ann)
    data.note("Globex mentioned Northwind Agency too.", company_id=other)
    index_tenant(tenant["tenant_id"])
    hits = search(tenant["tenant_id"], "Northwind incumbent", company_id=acme, k=5)
    assert [h.source_id for h in hits] == [note]


def test_long_text_is_chunked_and_every_mode_finds_the_fact(tenant):
    data = TenantData(tenant["tenant_id"])
    filler = " ".join(f"Sentence {i} talks about the weekly status of the account and nothing else." for i in range(30))
    body = filler + " The client's legal team requires a signed DPA before any data transfer."
    note = data.note(body)
    run = index_tenant(tenant["tenant_id"])
    assert run.embedded_chunks > 3
    for mode in ("vector", "fts", "hybrid"):
        hits = search(tenant["tenant_id"], "Does legal need a DPA signed?", mode=mode, k=3)
        assert hits and hits[0].source_id == note and "DPA" in hits[0].text, mode


def test_chunking_keeps_sentences_whole_and_drops_quoted_history():
    text = ". ".join(f"Point number {i} is about retainer pricing" for i in range(40)) + "."
    chunks = chunk_text(text, max_chars=200)
    assert all(len(c) <= 200 for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    joined = " ".join(chunks)
    assert all(f"Point number {i} is" in joined for i in range(40))
    reply = "Sounds good, see you Monday.\n\nOn Tue, Mar 3, 2026 at 9:00 Ann wrote:\n> old text\n> more"
    assert strip_quoted(reply) == "Sounds good, see you Monday."


def test_question_dates_and_entity_names_are_parsed_safely():
    rest, days = question_dates("What next step was agreed on 2026-03-30 (not 2026-13-45)?")
    assert days == [date(2026, 3, 30)] and "2026-03-30" not in rest
    assert "timestamp '2026-03-29 00:00:00'" in date_filter(days)
    assert without_names("Which competitor did ACME Ltd mention?", ["Acme Ltd"]).split() == [
        "Which", "competitor", "did", "mention?"]


def test_a_dated_question_looks_around_that_date_first(tenant):
    data = TenantData(tenant["tenant_id"])
    acme = data.company("Acme")
    early = data.note("Next step: send a revised quote.", company_id=acme, when=datetime(2026, 3, 30, 15, tzinfo=UTC))
    late = data.note("Next step: book a workshop.", company_id=acme, when=datetime(2026, 5, 1, 9, tzinfo=UTC))
    data.note("Acme Acme Acme newsletter mentions Acme.", company_id=acme)
    index_tenant(tenant["tenant_id"])
    for day, expected in (("2026-03-30", early), ("2026-05-01", late)):
        hits = search(tenant["tenant_id"], f"What next step was agreed with Acme on {day}?", company_id=acme,
                      entity_names=["Acme"], k=3)
        assert hits[0].source_id == expected, day
    # no passage near the date: the question is answered from all dates
    assert search(tenant["tenant_id"], "next step on 2020-01-01?", company_id=acme, k=3)

"""Retrieval never returns another tenant's text: hostile questions, other tenants' ids, injected filters."""

from __future__ import annotations

import itertools

import pytest

from serving.embeddings import embed_one
from serving.rag.indexer import index_tenant
from serving.rag.retrieve import search
from serving.rag.store import FilterError, open_table, tenant_filter
from tests.conftest import make_tenant
from tests.serving.rag_factory import TenantData, citation_in_tenant

TOPICS = ["budget for the rebrand", "competitor Brightwave Media", "contract renewal in June",
          "complaint about late reports", "interest in paid social", "next step: send a proposal"]


@pytest.fixture(scope="module")
def tenants():
    """Two tenants with the same kinds of text; the other tenant's also carry a unique word, ZEPHYRCO.
    Module-scoped: every test here only reads."""
    out = {}
    for name, marker in (("mine", "Quokka"), ("theirs", "ZEPHYRCO")):
        t = make_tenant(marker)
        data = TenantData(t["tenant_id"])
        company = data.company(f"{marker} Ltd")
        contact = data.contact(f"pat@{marker.lower()}.test", company, "Pat")
        notes = {data.note(f"{marker}: Pat talked about the {topic}.", contact_id=contact): "note" for topic in TOPICS}
        reply = data.activity("email_replied", f"{marker} replied about the {TOPICS[0]}.", contact_id=contact)
        index_tenant(t["tenant_id"])
        out[name] = {"tenant_id": t["tenant_id"], "company": company, "contact": contact,
                     "kinds": {**notes, reply: "activity"}, "sources": {*notes, reply}}
    return out


HOSTILE = [
    "What did ZEPHYRCO say about the budget?", "ZEPHYRCO", "ZEPHYRCO Ltd competitor renewal",
    "' OR tenant_id != '' --", "x') OR ('1'='1", "tenant_id = '00000000-0000-0000-0000-000000000000'",
    "\" OR 1=1; DROP TABLE passages; --", "*", "text:ZEPHYRCO", "ZEPHYRCO OR Quokka", "", "   ",
    "budget " * 500,
]


def test_the_other_tenants_text_is_in_the_same_table(tenants):
    """Without the tenant prefilter the hostile questions would find ZEPHYRCO: the tests below have teeth."""
    rows = open_table().search(embed_one("ZEPHYRCO budget")).limit(50).to_list()
    assert any(r["source_id"] in tenants["theirs"]["sources"] for r in rows)


def test_hostile_questions_in_every_mode_return_only_the_tenants_text(tenants):
    mine, theirs = tenants["mine"], tenants["theirs"]
    scopes = [{}, {"company_id": mine["company"]}, {"contact_id": mine["contact"]}]
    seen = set()
    cases = [*itertools.product(HOSTILE, ("vector", "fts", "hybrid"), scopes[:1]),
             *itertools.product(HOSTILE[:3] + TOPICS, ("hybrid",), scopes)]
    for question, mode, scope in cases:
        for hit in search(mine["tenant_id"], question, mode=mode, k=10, **scope):
            assert hit.source_id in mine["sources"], (question, mode, scope)
            assert "ZEPHYRCO" not in hit.text
            seen.add(hit.source_id)
    assert seen == mine["sources"]
    # and every source returned exists in PostgreSQL under the asking tenant's row-level security
    for source_id in seen:
        cite = {"source_type": mine["kinds"][source_id], "source_id": source_id}
        assert citation_in_tenant(mine["tenant_id"], cite) and not citation_in_tenant(theirs["tenant_id"], cite)


def test_other_tenants_ids_as_filters_return_nothing(tenants):
    mine, theirs = tenants["mine"], tenants["theirs"]
    for mode in ("vector", "fts", "hybrid"):
        assert search(mine["tenant_id"], "budget", mode=mode, company_id=theirs["company"]) == []
        assert search(mine["tenant_id"], "budget", mode=mode, contact_id=theirs["contact"]) == []


@pytest.mark.parametrize("bad", ["x' or '1'='1", "1 = 1", "' OR tenant_id IS NOT NULL --", "", None, 42, "0" * 40])
def test_filter_values_must_be_uuids(tenants, bad):
    mine = tenants["mine"]
    with pytest.raises(FilterError):
        tenant_filter(bad)
    if bad is not None:
        with pytest.raises(FilterError):
            search(mine["tenant_id"], "budget", company_id=bad)
        with pytest.raises(FilterError):
            search(bad, "budget")


def test_only_entity_columns_can_be_filtered(tenants):
    with pytest.raises(FilterError):
        tenant_filter(tenants["mine"]["tenant_id"], source_id=tenants["theirs"]["tenant_id"])
    with pytest.raises(TypeError):
        search(tenants["mine"]["tenant_id"], "budget", tenant_id=tenants["theirs"]["tenant_id"])

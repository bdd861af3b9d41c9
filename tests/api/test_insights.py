"""POST /insights and /contacts/{id}/email-draft over HTTP: shape, 404 across tenants, no leaks, LLM mode."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from serving import llm as llm_module
from serving.rag.indexer import index_tenant
from tests.api.conftest import assert_problem
from tests.serving.rag_factory import citation_in_tenant


def _seed(api, secret: str) -> dict:
    company = api.company(name=f"{secret} Holdings")
    contact = api.contact(f"{uuid.uuid4().hex[:8]}@{secret.lower()}.example.com", first_name="Dana",
                          company_id=company["id"])
    note = api.create("notes", {"body": f"Dana said {secret} is comparing us with Brightwave Media; decision in May.",
                                "contact_id": contact["id"]})
    reply = api.create("activities", {"type": "email_replied", "occurred_at": "2026-02-01T10:00:00Z",
                                      "subject": "Re: pricing", "contact_id": contact["id"],
                                      "body": f"Our budget at {secret} is 30k. Can you send a case study?"})
    return {"company": company["id"], "contact": contact["id"], "note": note["id"], "reply": reply["id"]}


@pytest.fixture
def two_tenants(api, other_api, tenant, other_tenant):
    mine, theirs = _seed(api, "Quokka"), _seed(other_api, "Zephyr")
    index_tenant(tenant["tenant_id"])
    index_tenant(other_tenant["tenant_id"])
    return mine, theirs


def test_insight_answers_with_citations_of_the_tenant(api, tenant, two_tenants):
    mine, _ = two_tenants
    r = api.post("/insights", {"question": "Which competitor are they comparing us with?",
                               "company_id": mine["company"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "Brightwave Media" in body["answer"]
    assert body["citations"][0] == {**body["citations"][0], "source_type": "note", "source_id": mine["note"]}
    assert set(body["citations"][0]) == {"source_type", "source_id", "snippet", "occurred_at"}
    assert all(citation_in_tenant(tenant["tenant_id"], c) for c in body["citations"])


def test_other_tenants_ids_are_404_and_bad_input_422(api, two_tenants):
    _, theirs = two_tenants
    for field in ("company_id", "contact_id"):
        key = "company" if field == "company_id" else "contact"
        assert_problem(api.post("/insights", {"question": "budget?", field: theirs[key]}), 404)
        assert_problem(api.post("/insights", {"question": "budget?", field: str(uuid.uuid4())}), 404)
        assert_problem(api.post("/insights", {"question": "budget?", field: "x' or '1'='1"}), 422)
    assert_problem(api.post(f"/contacts/{theirs['contact']}/email-draft"), 404)
    assert_problem(api.post("/contacts/not-a-uuid/email-draft"), 422)
    assert_problem(api.post("/insights", {"question": ""}), 422)
    assert_problem(api.post("/insights", {"question": "q", "tenant_id": str(uuid.uuid4())}), 422)


def test_no_question_or_filter_reaches_another_tenants_text(api, tenant, other_tenant, two_tenants):
    mine, theirs = two_tenants
    questions = [
        "What did Zephyr Holdings say about their budget?", "Zephyr", "Zephyr competitor Brightwave decision",
        f"notes of company {theirs['company']}", f"' OR tenant_id = '{other_tenant['tenant_id']}' --",
        "x') OR ('1'='1", "budget\" OR 1=1; DROP TABLE notes; --", "tenant_id != ''", "*", "Quokka OR Zephyr",
    ]
    for question in questions:
        for scope in ({}, {"company_id": mine["company"]}, {"contact_id": mine["contact"]}):
            r = api.post("/insights", {"question": question, **scope})
            assert r.status_code == 200, r.text
            body = r.json()
            assert "Zephyr" not in body["answer"] or "Zephyr" in question
            for cite in body["citations"]:
                assert "Zephyr" not in cite["snippet"]
                assert citation_in_tenant(tenant["tenant_id"], cite), cite
                assert not citation_in_tenant(other_tenant["tenant_id"], cite), cite


def test_email_draft_and_chat_model_mode(api, tenant, two_tenants, monkeypatch):
    mine, _ = two_tenants
    r = api.post(f"/contacts/{mine['contact']}/email-draft")
    assert r.status_code == 200, r.text
    draft = r.json()
    assert draft["body"].startswith("Hi Dana,") and draft["subject"]
    assert draft["citations"] and all(citation_in_tenant(tenant["tenant_id"], c) for c in draft["citations"])
    assert "Quokka" in draft["body"] and "Zephyr" not in draft["body"]

    fake = FakeListChatModel(responses=["They compare us with Brightwave Media [1]."])
    monkeypatch.setattr(llm_module, "get_chat_model", lambda: fake)
    r = api.post("/insights", {"question": "Which competitor?", "contact_id": mine["contact"]})
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "They compare us with Brightwave Media [1]."
    assert [c["source_id"] for c in r.json()["citations"]] == [mine["note"]]

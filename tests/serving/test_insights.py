"""Insights and email drafts: grounded offline answers, the chat-model path, facts from PostgreSQL."""

from __future__ import annotations

import re

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from crm.db.engine import tenant_session
from serving.email_draft import draft, read_contact
from serving.insights import NOTHING_FOUND, EntityNotFound, answer, read_records
from serving.rag.indexer import index_tenant
from serving.sentiment import score_tenant
from tests.serving.rag_factory import TenantData, citation_in_tenant, source_text


def answer_question(tenant_id, question: str, company_id=None, contact_id=None, llm=None):
    """As the API route does: the records in one tenant transaction, then the answer outside it."""
    with tenant_session(tenant_id) as session:
        records = read_records(session, question, company_id, contact_id)
    return answer(records, llm)


def draft_follow_up(tenant_id, contact_id, llm=None):
    with tenant_session(tenant_id) as session:
        records = read_contact(session, contact_id)
    return draft(records, llm)


def _norm(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture
def account(tenant):
    """A customer with two contacts, planted facts in notes/emails/calls, a deal, a score and sentiment."""
    data = TenantData(tenant["tenant_id"])
    acme = data.company("Acme Analytics")
    ann = data.contact("ann@acme.test", acme, "Ann", "Archer")
    bob = data.contact("bob@acme.test", acme, "Bob", "Baker")
    ids = {
        "tenant_id": tenant["tenant_id"], "acme": acme, "ann": ann, "bob": bob, "data": data,
        "competitor": data.note("Weekly sync went fine. Ann said they are also evaluating Brightwave Media "
                                "for paid social. She will decide by March.", contact_id=ann),
        "budget": data.activity("email_replied", "Thanks for the proposal. Our budget for the rebrand is 45k "
                                "for this year. Could you send references?", subject="Re: Rebrand proposal",
                                contact_id=ann),
        "call": data.activity("call", "Bob complained that the monthly report arrived late twice. He wants a "
                              "dashboard instead of PDFs.", contact_id=bob),
        "deal": data.deal("Rebrand 2026", 45000, company_id=acme, contact_id=ann),
    }
    data.note("Internal: remember to send the holiday card list.", company_id=acme)
    data.score("account", acme, 35, [{"feature": "days_since_last_activity", "value": 40, "impact": 0.2,
                                      "text": "No activity in 40 days"}])
    data.score("lead", ann, 81)
    score_tenant(tenant["tenant_id"])
    index_tenant(tenant["tenant_id"])
    return ids


def _assert_grounded(tenant_id: str, answer: str, citations: list[dict]) -> None:
    """Every sentence ends with a citation number that exists, and quoted words are in the cited record."""
    sentences = re.findall(r".+?\[\d+\]", answer)
    assert "".join(sentences).strip() == answer.strip(), "text outside any cited sentence"
    for sentence in sentences:
        n = int(re.search(r"\[(\d+)\]$", sentence).group(1))
        assert 1 <= n <= len(citations)
        cite = citations[n - 1]
        quoted = re.search(r'"(.+)"', sentence)
        if quoted:
            body = source_text(tenant_id, cite["source_type"], cite["source_id"])
            assert _norm(quoted.group(1)) in _norm(body) and _norm(cite["snippet"]) in _norm(body)
    assert all(citation_in_tenant(tenant_id, c) for c in citations)


def test_offline_answer_quotes_the_fact_and_every_citation_exists(account):
    insight = answer_question(account["tenant_id"], "Which competitor is Acme evaluating?", company_id=account["acme"])
    out = insight.to_dict()
    assert "Brightwave Media" in out["answer"]
    assert out["citations"][0]["source_id"] == account["competitor"]
    _assert_grounded(account["tenant_id"], out["answer"], out["citations"])
    kinds = {c["source_type"] for c in out["citations"]}
    assert {"score", "deal", "activity", "sentiment"} <= kinds
    assert "Churn risk for Acme Analytics: 35/100" in out["answer"]
    assert "No activity in 40 days" in out["answer"]
    assert "'Rebrand 2026'" in out["answer"]


def test_contact_question_uses_only_that_contacts_texts(account):
    out = answer_question(account["tenant_id"], "What is the budget?", contact_id=account["ann"]).to_dict()
    assert "45k" in out["answer"]
    texts = [c for c in out["citations"] if c["source_type"] in ("note", "activity")]
    assert {c["source_id"] for c in texts} <= {account["competitor"], account["budget"]} | {
        c["source_id"] for c in texts if c["snippet"].startswith("The last activity")}
    assert "Lead score for Ann Archer: 81/100" in out["answer"]
    _assert_grounded(account["tenant_id"], out["answer"], out["citations"])


def test_tenant_wide_question_and_nothing_found(account, other_tenant):
    out = answer_question(account["tenant_id"], "Who wants a dashboard instead of PDF reports?").to_dict()
    assert out["citations"][0]["source_id"] == account["call"]
    _assert_grounded(account["tenant_id"], out["answer"], out["citations"])
    empty = answer_question(other_tenant["tenant_id"], "Which competitor is Acme evaluating?")
    assert empty.answer == NOTHING_FOUND and empty.citations == []


def test_unknown_entity_is_not_found(account, other_tenant):
    with pytest.raises(EntityNotFound):
        answer_question(other_tenant["tenant_id"], "budget?", company_id=account["acme"])


class PromptCapture(BaseCallbackHandler):
    def __init__(self):
        self.prompts: list[str] = []

    def on_chat_model_start(self, serialized, messages, **kwargs):
        self.prompts.append("\n".join(m.content for batch in messages for m in batch))


def test_chat_model_gets_the_same_context_and_its_citations_are_kept(account):
    capture = PromptCapture()
    llm = GenericFakeChatModel(messages=iter([AIMessage("Acme is also evaluating Brightwave Media [1].")]),
                               callbacks=[capture])
    out = answer_question(account["tenant_id"], "Which competitor is Acme evaluating?", company_id=account["acme"],
                          llm=llm).to_dict()
    assert out["answer"] == "Acme is also evaluating Brightwave Media [1]."
    assert [c["source_id"] for c in out["citations"]] == [account["competitor"]]
    prompt = capture.prompts[0]
    assert "Brightwave Media" in prompt and "Churn risk for Acme Analytics" in prompt
    assert "Which competitor is Acme evaluating?" in prompt and "Acme Analytics" in prompt
    # a model that cites nothing in range gets the whole context as citations (it saw all of it)
    vague = FakeListChatModel(responses=["They are weighing options [99]."])
    out = answer_question(account["tenant_id"], "Which competitor?", company_id=account["acme"], llm=vague).to_dict()
    assert len(out["citations"]) > 1 and all(citation_in_tenant(account["tenant_id"], c) for c in out["citations"])


def test_email_draft_offline_is_grounded_in_the_contacts_history(account):
    draft = draft_follow_up(account["tenant_id"], account["ann"]).to_dict()
    assert draft["subject"] == "Following up: Rebrand 2026"
    assert draft["body"].startswith("Hi Ann,")
    quotes = re.findall(r'"(.+)"', draft["body"])
    assert quotes and len(quotes) == len([c for c in draft["citations"] if c["source_type"] in ("note", "activity")])
    for quote, cite in zip(quotes, draft["citations"], strict=False):
        assert _norm(quote) in _norm(source_text(account["tenant_id"], cite["source_type"], cite["source_id"]))
    assert {c["source_id"] for c in draft["citations"]} <= {account["competitor"], account["budget"], account["deal"]}
    assert "Bob" not in draft["body"]


def test_email_draft_with_chat_model(account):
    capture = PromptCapture()
    llm = FakeListChatModel(responses=["Subject: Next steps on the rebrand\nHi Ann,\nThanks for the 45k budget [2]."],
                            callbacks=[capture])
    draft = draft_follow_up(account["tenant_id"], account["ann"], llm=llm).to_dict()
    assert draft["subject"] == "Next steps on the rebrand"
    assert draft["body"].startswith("Hi Ann,")
    assert len(draft["citations"]) == 1 and citation_in_tenant(account["tenant_id"], draft["citations"][0])
    assert "Ann Archer at Acme Analytics" in capture.prompts[0] and "45k" in capture.prompts[0]


def test_a_question_naming_the_tenants_company_is_scoped_to_it(account, other_tenant):
    out = answer_question(account["tenant_id"], "Which competitor is acme analytics evaluating?").to_dict()
    assert out["citations"][0]["source_id"] == account["competitor"]
    assert "Churn risk for Acme Analytics" in out["answer"]  # the linked company's facts come along
    _assert_grounded(account["tenant_id"], out["answer"], out["citations"])
    # the same name means nothing to another tenant: nothing is linked and nothing found
    TenantData(other_tenant["tenant_id"]).company("Globex")
    empty = answer_question(other_tenant["tenant_id"], "Which competitor is Acme Analytics evaluating?")
    assert empty.citations == []

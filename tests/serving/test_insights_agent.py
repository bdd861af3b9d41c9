"""The insights agent on a real tenant: complete aggregate answers, text joined with score tiers, themes,
nothing cited off-topic, isolation through every tool, and the offline fallback when the model's server fails."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from crm.db.engine import tenant_session
from serving import llm as llm_module
from serving.insights import NOTHING_FOUND, read_records
from serving.insights_agent import ask
from serving.insights_agent.planner import AT_RISK_TIERS
from serving.insights_agent.tools import TenantTools
from serving.rag.indexer import index_tenant
from tests.chat_model_endpoint import serve as serve_chat_model
from tests.conftest import make_tenant
from tests.serving.rag_factory import TenantData, citation_in_tenant


def agent(tenant_id, question: str, llm=None, **ids):
    with tenant_session(tenant_id) as session:
        records = read_records(session, question, ids.get("company_id"), ids.get("contact_id"))
    return ask(records, llm)


def _score(data: TenantData, kind: str, entity_id: str, score: int, tier: str, reason: str = "") -> None:
    data.execute("insert into scores (tenant_id, entity_type, entity_id, score, probability, tier, factors, "
                 "model_name, model_version) values (:t, :e, :i, :s, :p, :tier, cast(:f as jsonb), 'm', '1')",
                 t=data.tenant_id, e=kind, i=entity_id, s=score, p=score / 100, tier=tier,
                 f=json.dumps([{"feature": "f", "text": reason}] if reason else []))


def _agency(tenant_id: str, prefix: str) -> dict:
    """Five client companies: three mention the rival (a note, a reply, a call), one only in an email we sent;
    complaints and praise about reporting; churn tiers; one hot lead."""
    d = TenantData(tenant_id)
    co = {n: d.company(f"{prefix} {n}") for n in ("Alder", "Birch", "Cedar", "Dune", "Elm")}
    ct = {n: d.contact(f"{n.lower()}@{prefix.lower()}.test", co[n], n[:3], "Lee") for n in co}
    ids = {"co": co, "ct": ct, "data": d}
    ids["adsmith"] = [
        d.note("Good call. Ann mentioned they are comparing us with Adsmith. Will update the deal.",
               contact_id=ct["Alder"]),
        d.activity("email_replied", "Thanks. They got a quote from Adsmith last week.", contact_id=ct["Birch"]),
        d.activity("call", "Pricing talk. Risk: Adsmith is pitching them.", company_id=co["Cedar"]),
    ]
    d.activity("email_sent", "Unlike Adsmith, we report weekly.", contact_id=ct["Dune"])   # our words, not theirs
    # a rival named after a cue once (Cedar) is a competitor wherever it is named (Elm); a person is no rival
    ids["rivals"] = [d.note("Competition: Loudhouse.", company_id=co["Cedar"]),
                     d.activity("meeting", "Loudhouse sent them a deck on Friday.", company_id=co["Elm"])]
    d.note("Also talking to Ald Lee about the renewal.", contact_id=ct["Dune"])
    ids["ceo"] = [d.note("Pushback: their CEO has to sign off.", contact_id=ct["Alder"]),
                  d.note("Objection raised: their CEO has to sign off.", contact_id=ct["Elm"])]
    d.note("Set up a call with their CEO next week.", contact_id=ct["Birch"])   # CEO, but no sign-off
    ids["complaints"] = [d.note("Dun is frustrated: reports arrive late again.", contact_id=ct["Dune"]),
                         d.note("Tense call; the reporting is a mess and slow.", company_id=co["Cedar"])]
    d.note("Elm said reporting is clear and on time, great work.", contact_id=ct["Elm"])      # praise
    # at risk = churn probability >= 0.5 whatever the tier: Alder, Cedar, Dune (Dune is tier C)
    for name, tier, score in (("Alder", "A", 80), ("Cedar", "A", 75), ("Dune", "C", 55), ("Birch", "B", 45),
                              ("Elm", "C", 20)):
        _score(d, "account", co[name], score, tier, "No activity in 40 days" if score >= 50 else "")
    _score(d, "lead", ct["Birch"], 90, "A")
    index_tenant(tenant_id)
    return ids


@pytest.fixture(scope="module")
def pair() -> tuple[dict, dict]:
    """Two agencies built once for the module: the tests only read them."""
    return make_tenant("Mine"), make_tenant("Theirs")


@pytest.fixture(scope="module")
def agencies(pair):
    return _agency(pair[0]["tenant_id"], "Mine"), _agency(pair[1]["tenant_id"], "Theirs")


@pytest.fixture
def tenant(pair):
    return pair[0]


@pytest.fixture
def other_tenant(pair):
    return pair[1]


def _names(answer) -> set[str]:
    return {i.name for g in answer.groups for i in g.items}


def test_which_companies_names_every_match_cites_each_and_nothing_of_the_other_agency(tenant, agencies):
    mine, _ = agencies
    out = agent(tenant["tenant_id"], "Which companies mentioned Adsmith?")
    assert out.plan.shape == "aggregate"
    assert _names(out) == {"Mine Alder", "Mine Birch", "Mine Cedar"}      # not Dune: only our own email
    assert out.insight.answer.startswith("3 companies mentioned “Adsmith”: ")
    assert {c.source_id for c in out.insight.citations} == set(mine["adsmith"])
    assert all("Adsmith" in c.snippet and citation_in_tenant(tenant["tenant_id"], c.__dict__)
               for c in out.insight.citations)
    body = out.to_dict(50)
    assert {i["entity_id"] for i in body["items"]} == {mine["co"][n] for n in ("Alder", "Birch", "Cedar")}
    assert all(i["url"] == f"/companies/{i['entity_id']}" and i["citations"] for i in body["items"])
    assert "Theirs" not in json.dumps(body, default=str)


def test_how_many_raised_an_objection_by_its_words(tenant, agencies):
    out = agent(tenant["tenant_id"], "How many companies raised the objection that their CEO has to sign off?")
    assert _names(out) == {"Mine Alder", "Mine Elm"} and out.plan.count_only
    assert out.insight.answer.startswith("2 companies")


def test_at_risk_customers_who_complained_about_reporting_joins_tiers_with_text(tenant, agencies):
    out = agent(tenant["tenant_id"], "Which at-risk customers complained about reporting?")
    assert out.plan.churn_tiers == AT_RISK_TIERS
    assert _names(out) == {"Mine Cedar", "Mine Dune"}           # Elm praised reporting and is tier C
    assert [g.key for g in out.groups] == ["tier-A", "tier-C"]
    hot = agent(tenant["tenant_id"], "Which hot leads mentioned Adsmith?")
    assert _names(hot) == {"Bir Lee"} and hot.groups[0].items[0].entity_type == "contact"


def test_a_competitor_as_a_category_names_every_company_whose_texts_say_so(tenant, agencies):
    mine, _ = agencies
    for question in ("Which companies mentioned a competitor?", "Which clients are considering another agency?"):
        out = agent(tenant["tenant_id"], question)
        assert _names(out) == {"Mine Alder", "Mine Birch", "Mine Cedar", "Mine Elm"}, question   # not Dune
        cited = {c.source_id for c in out.insight.citations}
        assert cited <= set(mine["adsmith"]) | set(mine["rivals"]) and mine["rivals"][1] in cited
        assert all(citation_in_tenant(tenant["tenant_id"], c.__dict__) for c in out.insight.citations)
    hot = agent(tenant["tenant_id"], "hot leads that mentioned a competitor")
    assert hot.plan.lead_tiers == ("A",) and _names(hot) == {"Bir Lee"}
    assert [c.source_id for c in hot.insight.citations] == [mine["adsmith"][1]]


_RECORD_TABLES = {"note": "notes", "activity": "activities", "deal": "deals", "task": "tasks",
                  "contact": "contacts", "company": "companies"}


def _cited_in(tenant_id: str, citation) -> bool:
    table = _RECORD_TABLES.get(citation.source_type)
    if table is None:
        return citation_in_tenant(tenant_id, citation.__dict__)
    with tenant_session(tenant_id) as s:
        return s.execute(text(f"select count(*) from {table} where id = :id"), {"id": citation.source_id}).scalar() == 1


def test_what_to_do_next_about_a_named_record_answers_with_its_cited_reasons(tenant, agencies):
    mine, _ = agencies
    out = agent(tenant["tenant_id"], "What should we do next about Mine Alder?")
    assert out.plan.shape == "next_action"
    assert out.insight.answer.startswith("Next best action for Mine Alder: ")
    assert out.insight.citations and all(_cited_in(tenant["tenant_id"], c) for c in out.insight.citations)
    body = out.to_dict(50)
    assert body["items"] == [{**body["items"][0], "entity_id": mine["co"]["Alder"],
                              "url": f"/companies/{mine['co']['Alder']}"}]
    assert body["items"][0]["citations"] == list(range(1, len(out.insight.citations) + 1))
    lead = agent(tenant["tenant_id"], "Next best action for Bir Lee")
    assert lead.groups[0].items[0].entity_id == mine["ct"]["Birch"] and lead.insight.citations
    for question in ("What should we do next about Theirs Alder?", "next best action for nobody@nowhere.test"):
        missing = agent(tenant["tenant_id"], question)   # another agency's company is not found here
        assert missing.insight.citations == [] and not missing.groups and "No company or contact" in \
            missing.insight.answer, question


def test_why_groups_reasons_and_off_topic_cites_nothing(tenant, agencies):
    why = agent(tenant["tenant_id"], "Why are accounts at risk?")
    assert why.plan.shape == "why" and why.groups[0].label == "No activity in N days" and why.groups[0].count == 3
    for question in ("What is the capital of France?", "Which companies mentioned the moon landing?"):
        out = agent(tenant["tenant_id"], question)
        assert out.insight.citations == [] and not out.groups, question
    assert agent(tenant["tenant_id"], "What is the capital of France?").insight.answer == NOTHING_FOUND


def test_record_tools_see_only_the_bound_agency(tenant, other_tenant, agencies):
    mine, theirs = agencies
    tools = TenantTools(tenant["tenant_id"])
    assert set(tools.scored("account", ["A", "B", "C", "D"])) == set(mine["co"].values())
    assert tools.names("company", list(theirs["co"].values())) == {}
    assert tools.names("contact", list(theirs["ct"].values())) == {}
    found = tools.find_mentions("Adsmith")
    assert {e.citation.source_id for e in found} == set(mine["adsmith"])
    listed = agent(other_tenant["tenant_id"], "Which accounts are at risk?")
    at_risk = {theirs["co"][n] for n in ("Alder", "Cedar", "Dune")}
    assert {i.entity_id for g in listed.groups for i in g.items} == at_risk


@pytest.fixture
def model_server(monkeypatch):
    """CRM_LLM set to an Ollama model served by a local HTTP server: HTTP 500 until its `call` is set."""
    server = serve_chat_model(monkeypatch)
    yield server
    server.stop()


def test_provider_error_falls_back_to_the_offline_plan_and_a_tool_call_plans(tenant, agencies, model_server):
    model = llm_module.get_chat_model()
    out = agent(tenant["tenant_id"], "Which companies mentioned Adsmith?", llm=model)
    assert model_server.requests >= 1
    assert out.plan.planner.startswith("offline fallback (")
    assert _names(out) == {"Mine Alder", "Mine Birch", "Mine Cedar"}

    model_server.call = {"name": "find_mentions", "arguments": {"topic": "Adsmith", "at_risk_accounts_only": True}}
    out = agent(tenant["tenant_id"], "Which of my risky clients talk about that ad shop Adsmith?", llm=model)
    assert out.plan.planner == "model" and out.plan.churn_tiers == AT_RISK_TIERS
    assert _names(out) == {"Mine Alder", "Mine Cedar"}

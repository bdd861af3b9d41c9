"""The insights graph: plan -> the tools of the plan's shape -> compose. Nodes are plain functions of the state;
the tools are bound to the asking tenant (`TenantTools(records.tenant_id)`) before the graph is built, so no
node can reach another agency's data whatever the plan says.

The planner is the offline one unless a chat model is configured; then the model plans by calling one of
the plan tools (model_planner.py) and any provider error falls back to the offline plan, which the answer
says (`plan.planner`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial

from langgraph.graph import END, START, StateGraph

from serving.citations import Citation
from serving.insights import QuestionRecords
from serving.insights_agent import compose
from serving.insights_agent.matching import content_words
from serving.insights_agent.model_planner import plan_with_model
from serving.insights_agent.planner import AT_RISK_PROBABILITY, COMPANY_WORDS, CONTACT_WORDS, plan_offline
from serving.insights_agent.single import single_answer
from serving.insights_agent.state import AgentAnswer, AgentState, Item
from serving.insights_agent.themes import cluster
from serving.insights_agent.tools import TenantTools

SHAPES = ("aggregate", "why", "records", "next_action", "single")


def plan_node(state: AgentState, tools: TenantTools, llm) -> dict:
    records = state["records"]
    stages = tools.stage_names() if re.search(r"\bdeals?\b", records.question, re.IGNORECASE) else []
    plan = plan_offline(records, stages)
    if llm is not None and plan.shape != "next_action":   # a named record's next action needs no planning
        plan = plan_with_model(llm, records, offline=plan)
    if plan.tiers:  # a score tier decides what is listed: accounts are companies, leads are contacts
        plan = replace(plan, subject=plan.tiers[1])
    return {"plan": plan}


def _scored(plan, tools: TenantTools) -> dict:
    """The records of the plan's score tier: for accounts "at risk", a churn probability of at least
    AT_RISK_PROBABILITY (whatever their tier: the home page counts them the same way)."""
    entity_type, _, tiers = plan.tiers
    floor = AT_RISK_PROBABILITY if plan.churn_tiers else 0.0
    return tools.scored(entity_type, tiers, min_probability=floor)


def _scope(records: QuestionRecords) -> dict:
    entity = records.entity
    if entity is None:
        return {}
    return {"company_id": entity.id} if entity.kind == "company" else {"contact_id": entity.id}


def _names_for(tools: TenantTools, subject: str, evidence) -> dict[str, str]:
    ids = {(e.company_id if subject == "company" else e.contact_id) for e in evidence} - {None}
    return tools.names(subject, sorted(ids)) if ids else {}


def _customers(plan, tools: TenantTools, evidence: list) -> list:
    if not plan.customers_only or plan.tiers:   # a churn tier already means a customer
        return evidence
    customers = tools.customer_ids()
    return [e for e in evidence if e.company_id in customers]


def mentions_node(state: AgentState, tools: TenantTools) -> dict:
    """Tools: term/semantic evidence, the score tier's records, entity lookup -> items."""
    plan, records = state["plan"], state["records"]
    evidence = _customers(plan, tools, tools.find_mentions(plan.topic, plan.negative, **_scope(records)))
    scored = _scored(plan, tools) if plan.tiers else None
    items = compose.items_from_evidence(plan, evidence, _names_for(tools, plan.subject, evidence), scored)
    return {"items": items}


def _asks_for_scores(plan) -> bool:
    """'why are accounts at risk' asks for the scores' reasons; 'why are at-risk accounts unhappy' for themes."""
    return bool(plan.tiers) and not re.search(r"unhapp|complain|frustrat|upset|leav|switch|cancel|said",
                                              plan.topic, re.IGNORECASE)


_NOT_A_TOPIC = re.compile(rf"^(?:{COMPANY_WORDS}|{CONTACT_WORDS}|unhapp\w*|complain\w*|frustrat\w*|dissatisf\w*|"
                          r"upset|angry|at|risk|churn\w*|leav\w*|hot|warm|cold|why|our|so|many|some)$", re.IGNORECASE)


def topic_words(topic: str) -> list[str]:
    """The words of a why-question that name what it is about ("reporting" in "why are clients unhappy with
    reporting"), without the words saying who or how they feel."""
    return [w for w in content_words(topic) if not _NOT_A_TOPIC.match(w)]


def why_node(state: AgentState, tools: TenantTools) -> dict:
    plan = state["plan"]
    if _asks_for_scores(plan):
        return {"scored": _scored(plan, tools)}
    words = topic_words(plan.topic)
    if words:
        evidence = tools.find_mentions(" ".join(words), plan.negative)
    elif plan.negative:
        evidence = tools.complaints()
    else:
        evidence = tools.themes_of(plan.topic or state["records"].question, negative=False)
    evidence = _customers(plan, tools, evidence)
    scored = _scored(plan, tools) if plan.tiers else None
    items = compose.items_from_evidence(plan, evidence, _names_for(tools, plan.subject, evidence), scored)
    return {"items": items, "themes": cluster([i.evidence[0] for i in items])}


def records_node(state: AgentState, tools: TenantTools) -> dict:
    plan = state["plan"]
    if plan.listing == "deals":
        return {"rows": tools.deals_in_stage(plan.stage)}
    if plan.listing == "campaigns":
        return {"rows": tools.campaign_results()}
    return {"scored": _scored(plan, tools)}


def next_action_node(state: AgentState, tools: TenantTools) -> dict:
    """The record the question names (or the page it was asked on), then the recommendation tool on it."""
    plan, records = state["plan"], state["records"]
    entity = records.entity or records.named
    if entity is not None and (records.entity is not None or entity.name.lower() == plan.target.lower()):
        found = (entity.kind, entity.id, entity.name)
    else:
        found = tools.find_record(plan.target)
    if found is None:
        return {"answer": compose.not_found_answer(plan)}
    return {"answer": compose.action_answer(plan, tools.next_action(found[0], found[1]))}


def single_node(state: AgentState, llm) -> dict:
    return {"answer": AgentAnswer(single_answer(state["records"], llm), [], state["plan"])}


def compose_node(state: AgentState) -> dict:
    plan, records = state["plan"], state["records"]
    if "answer" in state:
        return {}
    if plan.shape == "aggregate":
        scope = f" at {records.entity.name}" if records.entity is not None else ""
        return {"answer": compose.aggregate_answer(plan, state["items"], scope)}
    if plan.shape == "why":
        if "scored" in state:
            return {"answer": compose.score_reason_answer(plan, state["scored"])}
        return {"answer": compose.why_answer(plan, state["themes"], state["items"])}
    if plan.listing == "deals":
        items = [Item("company" if r["company_id"] else "deal", r["company_id"] or r["id"], r["name"],
                      compose.url_of("company", r["company_id"]) if r["company_id"] else "/pipeline", [],
                      f"{r['currency']} {float(r['amount'] or 0):,.0f}") for r in state["rows"]]
        return {"answer": compose.records_answer(plan, f"open deals in {plan.stage}", items, [])}
    if plan.listing == "campaigns":
        items = [Item("campaign", r["id"], r["name"], "/campaigns", [],
                      f"{r['responded']} of {r['members']} members responded, {r['status']}") for r in state["rows"]]
        return {"answer": compose.records_answer(plan, "campaigns", items, [])}
    scored = state["scored"].values()
    items = [Item(plan.subject, s.entity_id, s.name, compose.url_of(plan.subject, s.entity_id), [],
                  f"tier {s.tier}, {s.score}/100") for s in scored]
    cites = [Citation("score", s.entity_id, f"{s.name}: {s.score}/100, tier {s.tier}", None) for s in scored]
    return {"answer": compose.records_answer(plan, compose.noun(plan, len(items)), items, cites)}


def route(state: AgentState) -> str:
    return state["plan"].shape if state["plan"].shape in SHAPES else "single"


def build_graph(tools: TenantTools, llm=None):
    graph = StateGraph(AgentState)
    graph.add_node("plan", partial(plan_node, tools=tools, llm=llm))
    graph.add_node("aggregate", partial(mentions_node, tools=tools))
    graph.add_node("why", partial(why_node, tools=tools))
    graph.add_node("records", partial(records_node, tools=tools))
    graph.add_node("next_action", partial(next_action_node, tools=tools))
    graph.add_node("single", partial(single_node, llm=llm))
    graph.add_node("compose", compose_node)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", route, list(SHAPES))
    for node in SHAPES:
        graph.add_edge(node, "compose")
    graph.add_edge("compose", END)
    return graph.compile()


def ask(records: QuestionRecords, llm=None) -> AgentAnswer:
    """The answer to a question whose records were read (`serving.insights.read_records`); the tools open their
    own short tenant transactions, so a slow chat model holds no connection."""
    return build_graph(TenantTools(records.tenant_id), llm).invoke({"records": records})["answer"]

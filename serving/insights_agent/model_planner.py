"""With CRM_LLM set, a tool-calling chat model plans: it answers the question with one call of a plan tool
below, which becomes the same `Plan` the offline planner makes. The model never sees data, ids or SQL: it
only picks the shape and its arguments; the tools stay bound to the tenant. Any provider error, or a reply
without a usable call, falls back to the offline plan and says so in `plan.planner`."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from serving.insights import QuestionRecords
from serving.insights_agent.planner import AT_RISK_TIERS
from serving.insights_agent.state import Plan

log = logging.getLogger(__name__)


class find_mentions(BaseModel):
    """List every company or contact whose notes, emails, calls or tickets mention a topic."""

    topic: str = Field(description="what was mentioned: a name (competitor) or a few words (an objection)")
    subject: Literal["company", "contact"] = "company"
    complaints_only: bool = Field(False, description="only complaints about the topic")
    at_risk_accounts_only: bool = Field(False, description="only accounts whose churn risk is high")
    lead_tier: Literal["", "hot", "warm", "cold"] = ""
    count_only: bool = False
    group_by_theme: bool = Field(False, description="also group them by what they said (\"and why\")")


class explain_reasons(BaseModel):
    """Group the reasons behind something (why clients are unhappy, why accounts are at risk) by theme."""

    topic: str
    at_risk_accounts: bool = False


class list_records(BaseModel):
    """List scored records: accounts at risk or leads by tier, open deals in a stage, or campaign results."""

    listing: Literal["scores", "deals", "campaigns"]
    at_risk_accounts: bool = False
    lead_tier: Literal["", "hot", "warm", "cold"] = ""
    stage: str = ""


class search_texts(BaseModel):
    """Answer from the few most relevant notes/emails and facts (a question about one record or one fact)."""

    question: str


PLAN_TOOLS = [find_mentions, explain_reasons, list_records, search_texts]
_LEAD = {"hot": ("A",), "warm": ("B",), "cold": ("C", "D")}
SYSTEM = ("You plan how to answer a question about a marketing agency's CRM. Call exactly one tool. "
          "Use find_mentions for which/how many/who questions about what clients said, explain_reasons for why "
          "questions, list_records for scores, deals or campaigns, search_texts otherwise.")


def to_plan(name: str, args: dict, offline: Plan) -> Plan:
    lead = _LEAD.get(args.get("lead_tier") or "", ())
    if name == "find_mentions":
        a = find_mentions(**args)
        return Plan("aggregate", subject=a.subject, topic=a.topic, negative=a.complaints_only,
                    churn_tiers=AT_RISK_TIERS if a.at_risk_accounts_only else (), lead_tiers=lead,
                    count_only=a.count_only, by_theme=a.group_by_theme, planner="model")
    if name == "explain_reasons":
        a = explain_reasons(**args)
        return Plan("why", topic=a.topic, negative=True, churn_tiers=AT_RISK_TIERS if a.at_risk_accounts else (),
                    planner="model")
    if name == "list_records":
        a = list_records(**args)
        churn = AT_RISK_TIERS if a.at_risk_accounts else ()
        if a.listing == "scores" and not (churn or lead):
            churn = AT_RISK_TIERS
        return Plan("records", subject="contact" if lead and not churn else "company", listing=a.listing,
                    stage=a.stage, churn_tiers=churn, lead_tiers=() if churn else lead, planner="model")
    if name == "search_texts":
        return Plan("single", planner="model")
    raise ValueError(f"the model called an unknown tool {name!r}")


def plan_with_model(llm, records: QuestionRecords, offline: Plan) -> Plan:
    """The model's plan; the offline plan (marked 'offline fallback (...)') on any error."""
    if offline.shape == "single" and records.entity is not None:
        return offline   # a record's own page: the single-record answer, nothing to plan
    try:
        reply = llm.bind_tools(PLAN_TOOLS).invoke([SystemMessage(SYSTEM), HumanMessage(records.question)])
        calls = getattr(reply, "tool_calls", None) or []
        if not calls:
            raise ValueError("the model called no tool")
        return to_plan(calls[0]["name"], calls[0]["args"], offline)
    except Exception as exc:  # any provider failure: answer offline, and say so
        log.warning("insights planner model failed, planning offline: %s", exc)
        return replace(offline, planner=f"offline fallback ({type(exc).__name__})")

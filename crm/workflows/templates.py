"""Ready-made workflows: a named, described definition with placeholders the user fills in.

A placeholder is a string `"{{name}}"` anywhere in the definition. Where it is the whole string it becomes the
value given, with its type (a number stays a number); inside a longer string it is replaced as text. Each
placeholder is declared with a description and, when it has one, a default; one without a default must be
given (`instantiate` raises `TemplateParamError` naming it). The result is an ordinary definition, validated
like any other by crm.workflows.definition.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Placeholder:
    name: str
    description: str
    default: Any = None
    required: bool = False     # no default: the user must give it

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "default": self.default,
                "required": self.required}


@dataclass(frozen=True)
class Template:
    name: str                  # stable key, used as `{"template": name}`
    title: str
    description: str
    definition: dict
    placeholders: tuple[Placeholder, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "description": self.description,
                "placeholders": [p.to_dict() for p in self.placeholders], "definition": self.definition}


class UnknownTemplate(LookupError):
    pass


class TemplateParamError(ValueError):
    """A placeholder without a default was not given, or a param names no placeholder; `param` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


TEMPLATES: tuple[Template, ...] = (
    Template(
        "tier_a_lead_follow_up",
        "New tier-A lead → task for its owner within 1 h + drafted follow-up",
        "When a contact's lead score enters tier A, its owner gets a call task due within the hour and a "
        "follow-up email is drafted from the contact's history, kept as a draft for the owner to send.",
        {"trigger": {"type": "lead_score", "enters_tier": "{{tier}}"},
         "conditions": [],
         "steps": [
             {"id": "call_task", "type": "create_task",
              "params": {"title": "Call new tier-{{tier}} lead", "due_in_minutes": "{{due_in_minutes}}",
                         "assignee": "owner"}},
             {"id": "follow_up", "type": "draft_email", "params": {"assignee": "owner"}, "next": None}]},
        (Placeholder("tier", "the lead tier that starts the workflow (A, B, C or D)", "A"),
         Placeholder("due_in_minutes", "minutes until the task is due", 60)),
    ),
    Template(
        "churn_risk_jump",
        "Churn risk up 20 points → task for the account manager + webhook",
        "When a company's churn risk rises by 20 points or more, its account manager (the company's owner) "
        "gets a task to call the client, and a signed webhook tells your chat channel or other tool.",
        {"trigger": {"type": "churn_risk", "rises_by": "{{points}}"},
         "conditions": [],
         "steps": [
             {"id": "save_call", "type": "create_task",
              "params": {"title": "Churn risk jumped: call the client", "due_in_minutes": "{{due_in_minutes}}",
                         "assignee": "owner"}},
             {"id": "notify", "type": "send_webhook", "params": {"subscription_id": "{{subscription_id}}"},
              "next": None}]},
        (Placeholder("points", "how many points churn risk must rise by", 20),
         Placeholder("due_in_minutes", "minutes until the task is due", 24 * 60),
         Placeholder("subscription_id", "the webhook subscription (POST /api/v1/webhooks) to notify",
                     required=True)),
    ),
    Template(
        "deal_idle_reminder",
        "Deal idle 14 days → reminder",
        "When an open deal has had no activity for 14 days, its owner gets a reminder task and the deal a "
        "note saying so.",
        {"trigger": {"type": "inactivity", "entity": "deal", "days": "{{days}}"},
         "conditions": [{"field": "status", "op": "eq", "value": "open"}],
         "steps": [
             {"id": "reminder", "type": "create_task",
              "params": {"title": "No activity for {{days}} days: follow up on this deal",
                         "due_in_minutes": "{{due_in_minutes}}", "assignee": "owner"}},
             {"id": "note", "type": "add_note",
              "params": {"body": "Reminder sent to the owner: no activity on this deal for {{days}} days."},
              "next": None}]},
        (Placeholder("days", "days without activity before the reminder", 14),
         Placeholder("due_in_minutes", "minutes until the reminder is due", 24 * 60)),
    ),
    Template(
        "negative_sentiment_complaint",
        "Account sentiment turns negative → task + AI routing of a complaint",
        "When a client's sentiment turns negative, an AI decision step reads the latest messages and decides "
        "whether it is a complaint, an objection or a buying signal: a complaint becomes an urgent task for "
        "the owner, anything else a note on the record.",
        {"trigger": {"type": "sentiment", "turns": "negative"},
         "conditions": [],
         "steps": [
             {"id": "classify", "type": "ai_decision",
              "params": {"question": "Is the latest message from this client a complaint, an objection or a "
                                     "buying signal?",
                         "labels": ["complaint", "objection", "buying_signal"],
                         "routes": {"complaint": "complaint_task", "objection": "objection_note",
                                    "buying_signal": "signal_note"},
                         "default": "objection_note"}},
             {"id": "complaint_task", "type": "create_task",
              "params": {"title": "Complaint: call the client today", "due_in_minutes": "{{due_in_minutes}}",
                         "assignee": "owner"}, "next": None},
             {"id": "objection_note", "type": "add_note",
              "params": {"body": "Sentiment turned negative; the latest message reads as an objection."},
              "next": None},
             {"id": "signal_note", "type": "add_note",
              "params": {"body": "Sentiment turned negative, but the latest message reads as a buying signal."},
              "next": None}]},
        (Placeholder("due_in_minutes", "minutes until the complaint task is due", 4 * 60),),
    ),
)
BY_NAME = {t.name: t for t in TEMPLATES}


def get(name: str) -> Template:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownTemplate(f"no workflow template {name!r}: choose one of {', '.join(BY_NAME)}") from None


def instantiate(name: str, params: dict[str, Any] | None = None) -> dict:
    """The template's definition with its placeholders filled from `params` (else their defaults)."""
    template = get(name)
    params = dict(params or {})
    declared = {p.name for p in template.placeholders}
    for unknown in sorted(set(params) - declared):
        raise TemplateParamError(unknown, f"template {name!r} has no placeholder {unknown!r}: its params are "
                                          f"{', '.join(sorted(declared))}")
    values = {}
    for p in template.placeholders:
        if params.get(p.name) is not None:
            values[p.name] = params[p.name]
        elif p.required:
            raise TemplateParamError(p.name, f"template {name!r} needs params.{p.name}: {p.description}")
        else:
            values[p.name] = p.default
    return _fill(copy.deepcopy(template.definition), values)


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), node)
    return node

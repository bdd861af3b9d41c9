"""Workflow definitions in words, for the workflow pages: the trigger as a sentence, each step as a line."""

from __future__ import annotations

from typing import Any


def duration(minutes: int | float | None) -> str:
    if minutes is None:
        return ""
    minutes = int(minutes)
    for size, unit in ((60 * 24, "day"), (60, "hour")):
        if minutes >= size and minutes % size == 0:
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{minutes} min"


def trigger_text(trigger: dict[str, Any]) -> str:
    kind = trigger.get("type")
    if kind == "record":
        actions = "/".join(trigger.get("actions") or ["create", "update", "delete"])
        changed = f" ({', '.join(trigger['changed'])} changed)" if trigger.get("changed") else ""
        to = "".join(f", {k} becomes {v}" for k, v in (trigger.get("to") or {}).items())
        return f"When a {trigger.get('entity')} is {actions}d{changed}{to}"
    if kind == "lead_score":
        if trigger.get("enters_tier"):
            return f"When a lead's score enters tier {trigger['enters_tier']}"
        return f"When a lead's score crosses above {trigger.get('crosses_above')}"
    if kind == "churn_risk":
        if trigger.get("enters_tier"):
            return f"When a client's churn risk enters tier {trigger['enters_tier']}"
        return f"When a client's churn risk rises by {trigger.get('rises_by')} points or more"
    if kind == "sentiment":
        return f"When a {trigger.get('entity') or 'contact or company'}'s sentiment turns {trigger.get('turns')}"
    if kind == "inactivity":
        return f"When a {trigger.get('entity')} has had no activity for {trigger.get('days')} days"
    if kind == "schedule":
        return f"Every {duration(trigger.get('every_minutes'))}"
    if kind == "webhook":
        return "When a request arrives at its inbound webhook (POST /api/v1/workflows/{id}/hooks)"
    return "Only when started by hand" if kind == "manual" else f"Trigger {kind}"


def _assignee(value: Any) -> str:
    return {"owner": "the record's owner", "round_robin": "the next person in turn"}.get(str(value), f"user {value}")


def condition_text(c: dict[str, Any]) -> str:
    if c.get("op") in ("is_null", "not_null"):
        return f"{c.get('field')} is {'empty' if c['op'] == 'is_null' else 'set'}"
    words = {"eq": "is", "ne": "is not", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "is one of",
             "contains": "contains"}
    return f"{c.get('field')} {words.get(c.get('op'), c.get('op'))} {c.get('value')}"


def step_text(step: dict[str, Any]) -> str:
    p, kind = step.get("params") or {}, step.get("type")
    if kind == "create_task":
        due = f", due in {duration(p['due_in_minutes'])}" if p.get("due_in_minutes") is not None else ""
        return f"Create task “{p.get('title')}” for {_assignee(p.get('assignee', 'owner'))}{due}"
    if kind == "update_field":
        return f"Set {p.get('field')} to {p.get('value')}"
    if kind == "add_note":
        return f"Add a note: “{p.get('body')}”"
    if kind == "draft_email":
        return f"Draft a follow-up email from the record's history, kept for {_assignee(p.get('assignee', 'owner'))}"
    if kind == "send_webhook":
        return f"Send a signed webhook to subscription {p.get('subscription_id')}"
    if kind == "wait":
        return f"Wait {duration(p.get('minutes'))}"
    if kind == "branch":
        conditions = " and ".join(condition_text(c) for c in p.get("conditions") or [])
        return f"If {conditions}: go to {p.get('then') or 'the end'}, else {p.get('else') or 'the end'}"
    if kind == "enroll_in_campaign":
        return f"Enrol in campaign {p.get('campaign_id')}"
    if kind == "ai_decision":
        routes = ", ".join(f"{label} → {target or 'end'}" for label, target in (p.get("routes") or {}).items())
        return f"AI decides: {p.get('question')} ({routes}; otherwise → {p.get('default') or 'end'})"
    return str(kind)


def steps_of(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step with its words and where it goes next (absent `next` = the following step)."""
    steps = definition.get("steps") or []
    out = []
    for i, step in enumerate(steps):
        following = steps[i + 1].get("id") if i + 1 < len(steps) else None
        routes = step.get("type") in ("branch", "ai_decision")
        nxt = None if routes else step.get("next", following)
        out.append({"id": step.get("id"), "type": step.get("type"), "text": step_text(step),
                    "next": nxt, "routes": routes})
    return out

"""The workflow definition language: what it accepts, and errors that name the bad step."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from crm.workflows.definition import DefinitionError, conditions_hold, parse_definition

TASK = {"id": "task", "type": "create_task", "params": {"title": "Call the lead", "due_in_minutes": 60}}
DRAFT = {"id": "draft", "type": "draft_email", "params": {}}


def definition(*steps, trigger=None, conditions=None) -> dict:
    return {"trigger": trigger or {"type": "lead_score", "enters_tier": "A"}, "conditions": conditions or [],
            "steps": list(steps)}


def error_of(data) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    return caught.value


def test_a_full_definition_parses_and_round_trips():
    data = definition(
        TASK,
        {"id": "wait1", "type": "wait", "params": {"minutes": 1440}},
        {"id": "check", "type": "branch", "params": {"conditions": [{"field": "lifecycle_stage", "op": "eq",
                                                                     "value": "customer"}],
                                                    "then": None, "else": "classify"}},
        {"id": "classify", "type": "ai_decision", "params": {"question": "Buying signal, objection or complaint?",
                                                            "labels": ["buying_signal", "objection", "complaint"],
                                                            "routes": {"buying_signal": "draft",
                                                                       "complaint": "hook"},
                                                            "default": "note"}},
        DRAFT | {"next": None},
        {"id": "hook", "type": "send_webhook", "params": {"subscription_id": str(uuid.uuid4())}, "next": None},
        {"id": "note", "type": "add_note", "params": {"body": "Objection noted"}},
        {"id": "enroll", "type": "enroll_in_campaign", "params": {"campaign_id": str(uuid.uuid4())}},
        {"id": "stage", "type": "update_field", "params": {"field": "lifecycle_stage", "value": "opportunity"}},
        conditions=[{"field": "email", "op": "not_null"}],
    )
    parsed = parse_definition(data)
    assert [s.id for s in parsed.steps][:2] == ["task", "wait1"]
    assert parsed.step("task").next == "wait1"            # absent next: the following step
    assert parsed.step("draft").next is None              # explicit null: the end
    assert parsed.step("stage").next is None              # the last step ends the run
    assert parsed.step("classify").successors() == ["draft", "hook", "note"]
    assert parse_definition(parsed.to_json()) == parsed   # what is stored parses back to the same


@pytest.mark.parametrize("trigger", [
    {"type": "record", "entity": "deal", "actions": ["update"], "changed": ["stage_id"],
     "to": {"stage_id": str(uuid.uuid4())}},
    {"type": "lead_score", "crosses_above": 70}, {"type": "lead_score", "enters_tier": "A"},
    {"type": "churn_risk", "rises_by": 20}, {"type": "churn_risk", "enters_tier": "A"},
    {"type": "sentiment", "turns": "negative"}, {"type": "inactivity", "entity": "deal", "days": 14},
    {"type": "schedule", "every_minutes": 60}, {"type": "manual"}, {"type": "webhook"},
])
def test_every_trigger_of_the_contract_parses(trigger):
    assert parse_definition(definition(TASK, trigger=trigger)).trigger.type == trigger["type"]


@pytest.mark.parametrize(("data", "message", "step"), [
    (definition(TASK, DRAFT, {"id": "notify", "type": "sms", "params": {}}),
     'steps[2] "notify": unknown type "sms"', "notify"),
    (definition({"id": "task", "type": "create_task", "params": {}}),
     'steps[0] "task": params.title: Field required', "task"),
    (definition(TASK | {"next": "nowhere"}), 'steps[0] "task": next "nowhere" is not a step of this workflow', "task"),
    (definition({"id": "check", "type": "branch",
                 "params": {"conditions": [{"field": "amount", "op": "gt", "value": 1}], "then": "gone",
                            "else": None}}),
     'steps[0] "check": then "gone" is not a step of this workflow', "check"),
    (definition({"id": "ai", "type": "ai_decision",
                 "params": {"question": "?", "labels": ["yes", "no"], "routes": {"yes": "missing"}}}),
     'steps[0] "ai": routes "missing" is not a step of this workflow', "ai"),
    (definition(TASK | {"next": "wait1"}, {"id": "wait1", "type": "wait", "params": {"minutes": 5}, "next": "task"}),
     'steps[1] "wait1": a cycle task -> wait1 -> task', "wait1"),
    (definition(TASK | {"next": "task"}), 'steps[0] "task": a cycle task -> task', "task"),
    (definition(TASK, TASK), 'steps[1] "task": the id is already used by steps[0]', "task"),
    (definition({"id": "pause", "type": "wait", "params": {"minutes": 0}}),
     'steps[0] "pause": params.minutes: Input should be greater than or equal to 1', "pause"),
    (definition({"id": "hook", "type": "send_webhook", "params": {"subscription_id": "not-a-uuid"}}),
     'steps[0] "hook": params.subscription_id: Input should be a valid UUID', "hook"),
    (definition({"id": "ai", "type": "ai_decision",
                 "params": {"question": "?", "labels": ["yes", "no"], "routes": {"maybe": None}}}),
     "steps[0] \"ai\": params.routes name 'maybe', which are not among the labels", "ai"),
    (definition(), "steps: a workflow needs at least one step", None),
    (definition(TASK, trigger={"type": "lead_score"}), "trigger: lead_score: give exactly one of", None),
    (definition(TASK, trigger={"type": "churn_risk", "enters_tier": "high"}), "trigger: churn_risk.enters_tier",
     None),
    (definition(TASK, conditions=[{"field": "amount", "op": "between", "value": 1}]), "conditions[0]: op:", None),
])
def test_a_bad_definition_is_refused_naming_the_step(data, message, step):
    error = error_of(data)
    assert str(error).startswith(message), str(error)
    assert error.step == step


def test_conditions_hold_on_a_record():
    deal = {"amount": Decimal("1500.00"), "stage_id": str(uuid.UUID(int=7)), "lost_reason": None,
            "name": "Acme Retainer", "tags": ["vip", "renewal"], "closed_at": "2026-03-01T10:00:00+00:00"}
    holds = [
        {"field": "amount", "op": "gt", "value": 1000}, {"field": "amount", "op": "lte", "value": "1500"},
        {"field": "stage_id", "op": "eq", "value": str(uuid.UUID(int=7))},
        {"field": "stage_id", "op": "in", "value": [str(uuid.UUID(int=7)), "x"]},
        {"field": "name", "op": "contains", "value": "retainer"}, {"field": "tags", "op": "contains", "value": "vip"},
        {"field": "lost_reason", "op": "is_null"}, {"field": "name", "op": "not_null"},
        {"field": "closed_at", "op": "gte", "value": "2026-01-01"}, {"field": "amount", "op": "ne", "value": 10},
    ]
    assert conditions_hold(holds, deal)
    assert conditions_hold([], deal)
    for condition in holds:
        assert conditions_hold([condition], deal), condition
    assert not conditions_hold([{"field": "amount", "op": "gt", "value": 2000}], deal)
    assert not conditions_hold([{"field": "missing", "op": "gt", "value": 0}], deal)   # no value: no order
    assert not conditions_hold([{"field": "name", "op": "is_null"}], deal)
    assert not conditions_hold([{"field": "tags", "op": "contains", "value": "churned"}], deal)

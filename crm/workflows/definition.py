"""The workflow definition language: a trigger, conditions and steps, validated before anything is stored.

`parse_definition(data)` returns a `WorkflowDefinition` or raises `DefinitionError`, whose message names the
bad part the way a person reads the JSON: `steps[2] "notify": unknown type "sms"`, `steps[0] "task": params.title:
field required`, `steps[1] "check": then "nowhere" is not a step of this workflow`, `steps: a cycle
task -> wait -> task` (the API answers 422 with it). A step's `next` absent means the following step, `null` the
end of the run; `branch` and `ai_decision` route instead of `next`. Steps form no cycle, so every run ends.

Tiers are the ones scores really have (A best to D, `crm.model_bundle.TIER_ORDER`, for lead and churn scores
alike; for churn, A is the highest risk). `conditions_hold(conditions, record)` evaluates an AND of conditions on
a record as a plain dict (the run's record as it is now).
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

ENTITIES = ("contact", "company", "deal", "activity", "note", "task", "campaign", "pipeline")
Tier = Literal["A", "B", "C", "D"]
Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "is_null", "not_null"]
StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
MAX_WAIT_MINUTES = 60 * 24 * 90   # a run waits at most 90 days at a time


class DefinitionError(ValueError):
    """A definition that cannot run; the message names the step (or part) and what is wrong with it."""

    def __init__(self, message: str, step: str | None = None):
        super().__init__(message)
        self.step = step


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- triggers ------------------------------------------------------------------------------------------------

class RecordTrigger(Strict):
    type: Literal["record"]
    entity: Literal[ENTITIES]  # type: ignore[valid-type]
    actions: list[Literal["create", "update", "delete"]] = ["create", "update", "delete"]
    changed: list[str] = []
    to: dict[str, Any] = {}


class LeadScoreTrigger(Strict):
    type: Literal["lead_score"]
    crosses_above: float | None = Field(default=None, ge=0, le=100)
    enters_tier: Tier | None = None

    @model_validator(mode="after")
    def _one_rule(self):
        if (self.crosses_above is None) == (self.enters_tier is None):
            raise ValueError("give exactly one of crosses_above or enters_tier")
        return self


class ChurnRiskTrigger(Strict):
    type: Literal["churn_risk"]
    rises_by: float | None = Field(default=None, gt=0, le=100)
    enters_tier: Tier | None = None

    @model_validator(mode="after")
    def _one_rule(self):
        if (self.rises_by is None) == (self.enters_tier is None):
            raise ValueError("give exactly one of rises_by or enters_tier")
        return self


class SentimentTrigger(Strict):
    type: Literal["sentiment"]
    turns: Literal["negative", "neutral", "positive"]
    entity: Literal["contact", "company"] | None = None


class InactivityTrigger(Strict):
    type: Literal["inactivity"]
    entity: Literal["deal", "contact", "company"]
    days: int = Field(ge=1, le=3650)


class ScheduleTrigger(Strict):
    type: Literal["schedule"]
    every_minutes: int = Field(ge=1, le=60 * 24 * 31)


class ManualTrigger(Strict):
    type: Literal["manual"]


class WebhookTrigger(Strict):
    type: Literal["webhook"]


Trigger = Annotated[RecordTrigger | LeadScoreTrigger | ChurnRiskTrigger | SentimentTrigger | InactivityTrigger
                    | ScheduleTrigger | ManualTrigger | WebhookTrigger, Field(discriminator="type")]


# ---- conditions ----------------------------------------------------------------------------------------------

class Condition(Strict):
    field: str = Field(min_length=1)
    op: Op
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self):
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError(f'op "in" needs a list value (field {self.field!r})')
        if self.op in ("gt", "gte", "lt", "lte", "eq", "ne", "contains") and self.value is None:
            raise ValueError(f'op "{self.op}" needs a value (field {self.field!r}); use is_null / not_null')
        return self


# ---- steps ---------------------------------------------------------------------------------------------------

class CreateTaskParams(Strict):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    due_in_minutes: int | None = Field(default=None, ge=0, le=MAX_WAIT_MINUTES)
    assignee: Literal["owner", "round_robin"] | uuid.UUID = "owner"


class UpdateFieldParams(Strict):
    field: str = Field(min_length=1)
    value: Any


class AddNoteParams(Strict):
    body: str = Field(min_length=1, max_length=10_000)


class DraftEmailParams(Strict):
    # the draft is kept as a task carrying it, for this person (as create_task's assignee)
    assignee: Literal["owner", "round_robin"] | uuid.UUID = "owner"
    due_in_minutes: int | None = Field(default=None, ge=0, le=MAX_WAIT_MINUTES)


class SendWebhookParams(Strict):
    subscription_id: uuid.UUID


class WaitParams(Strict):
    minutes: int = Field(ge=1, le=MAX_WAIT_MINUTES)


class BranchParams(Strict):
    conditions: list[Condition] = Field(min_length=1)
    then: StepId | None
    else_: StepId | None = Field(alias="else")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EnrollInCampaignParams(Strict):
    campaign_id: uuid.UUID


class AiDecisionParams(Strict):
    question: str = Field(min_length=1, max_length=2000)
    labels: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(min_length=2, max_length=12)
    routes: dict[str, StepId | None] = {}
    default: StepId | None = None

    @field_validator("labels")
    @classmethod
    def _distinct(cls, labels: list[str]) -> list[str]:
        if len({label.lower() for label in labels}) < len(labels):
            raise ValueError("labels must be distinct")
        return labels

    @model_validator(mode="after")
    def _routes_name_labels(self):
        unknown = [label for label in self.routes if label not in self.labels]
        if unknown:
            raise ValueError(f"routes name {', '.join(map(repr, unknown))}, which are not among the labels")
        return self


PARAMS: dict[str, type[Strict]] = {
    "create_task": CreateTaskParams, "update_field": UpdateFieldParams, "add_note": AddNoteParams,
    "draft_email": DraftEmailParams, "send_webhook": SendWebhookParams, "wait": WaitParams,
    "branch": BranchParams, "enroll_in_campaign": EnrollInCampaignParams, "ai_decision": AiDecisionParams,
}
StepType = Literal[tuple(PARAMS)]  # type: ignore[valid-type]
ROUTING = ("branch", "ai_decision")   # steps that choose their successor instead of `next`


class Step(Strict):
    id: StepId
    type: StepType
    params: Any
    next: StepId | None = None   # resolved by parse_definition: absent = the following step

    def successors(self) -> list[str | None]:
        """Every step this one may lead to (None = the end of the run)."""
        if self.type == "branch":
            return [self.params.then, self.params.else_]
        if self.type == "ai_decision":
            return [*self.params.routes.values(), self.params.default]
        return [self.next]


class WorkflowDefinition(Strict):
    trigger: Trigger
    conditions: list[Condition] = []
    steps: list[Step]

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)


# ---- parsing -------------------------------------------------------------------------------------------------

def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-after"))
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _parse_step(index: int, raw: Any, following: str | None) -> Step:
    if not isinstance(raw, dict):
        raise DefinitionError(f"steps[{index}]: a step is an object with id, type and params")
    label = f'steps[{index}] "{raw.get("id", "?")}"'
    kind = raw.get("type")
    if kind not in PARAMS:
        known = ", ".join(PARAMS)
        raise DefinitionError(f'{label}: unknown type "{kind}" (one of {known})', raw.get("id"))
    try:
        params = PARAMS[kind].model_validate(raw.get("params") or {})
    except ValidationError as exc:
        raise DefinitionError(f"{label}: params.{_first_error(exc)}", raw.get("id")) from None
    try:
        return Step.model_validate({**raw, "params": params, "next": raw.get("next", following)})
    except ValidationError as exc:
        raise DefinitionError(f"{label}: {_first_error(exc)}", raw.get("id")) from None


def _check_graph(steps: list[Step]) -> None:
    ids: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.id in ids:
            raise DefinitionError(f'steps[{index}] "{step.id}": the id is already used by steps[{ids[step.id]}]',
                                  step.id)
        ids[step.id] = index
    for index, step in enumerate(steps):
        names = {"branch": ("then", "else"), "ai_decision": None}.get(step.type, ("next",))
        for position, target in enumerate(step.successors()):
            if target is not None and target not in ids:
                name = names[position] if names else ("default" if position == len(step.successors()) - 1
                                                      else "routes")
                raise DefinitionError(f'steps[{index}] "{step.id}": {name} "{target}" is not a step of this '
                                      f"workflow", step.id)
    _check_acyclic(steps)


def _check_acyclic(steps: list[Step]) -> None:
    by_id = {s.id: s for s in steps}
    state: dict[str, str] = {}   # "open" while on the current path, "done" once every successor is explored

    def visit(step_id: str, path: list[str]) -> None:
        state[step_id] = "open"
        for target in by_id[step_id].successors():
            if target is None or state.get(target) == "done":
                continue
            if state.get(target) == "open":
                trail = [*path, step_id]
                cycle = [*trail[trail.index(target):], target]
                index = list(by_id).index(step_id)
                raise DefinitionError(f'steps[{index}] "{step_id}": a cycle {" -> ".join(cycle)} '
                                      "(a workflow's steps may not loop)", step_id)
            visit(target, [*path, step_id])
        state[step_id] = "done"

    for step in steps:
        if step.id not in state:
            visit(step.id, [])


def parse_definition(data: Any) -> WorkflowDefinition:
    """The validated definition, or DefinitionError naming what is wrong and where."""
    if not isinstance(data, dict):
        raise DefinitionError("a workflow definition is an object with trigger, conditions and steps")
    unknown = set(data) - {"trigger", "conditions", "steps"}
    if unknown:
        raise DefinitionError(f"unknown key(s) {', '.join(sorted(unknown))}: a definition has trigger, "
                              "conditions and steps")
    try:
        trigger = TypeAdapter(Trigger).validate_python(data.get("trigger"))
    except ValidationError as exc:
        raise DefinitionError(f"trigger: {_first_error(exc)}") from None
    conditions = []
    for index, raw in enumerate(data.get("conditions") or []):
        try:
            conditions.append(Condition.model_validate(raw))
        except ValidationError as exc:
            raise DefinitionError(f"conditions[{index}]: {_first_error(exc)}") from None
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DefinitionError("steps: a workflow needs at least one step")
    if len(raw_steps) > 50:
        raise DefinitionError("steps: at most 50 steps")
    steps = []
    for index, raw in enumerate(raw_steps):
        following = raw_steps[index + 1].get("id") if index + 1 < len(raw_steps) and isinstance(
            raw_steps[index + 1], dict) else None
        steps.append(_parse_step(index, raw, following))
    _check_graph(steps)
    return WorkflowDefinition(trigger=trigger, conditions=conditions, steps=steps)


# ---- conditions on a record ----------------------------------------------------------------------------------

def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _compare(actual: Any, expected: Any) -> int | None:
    """-1 / 0 / 1, as numbers when both are numbers, else as text (ISO dates and uuids compare as text);
    None when the record has no value."""
    if actual is None:
        return None
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        left, right = _text(actual), _text(expected)
    return (left > right) - (left < right)


def condition_holds(condition: Condition, record: dict[str, Any]) -> bool:
    actual, op, expected = record.get(condition.field), condition.op, condition.value
    if op == "is_null":
        return actual is None
    if op == "not_null":
        return actual is not None
    if op == "in":
        return any(_compare(actual, option) == 0 for option in expected)
    if op == "contains":
        if isinstance(actual, (list, tuple, set)):
            return any(_compare(item, expected) == 0 for item in actual)
        return actual is not None and _text(expected).lower() in _text(actual).lower()
    order = _compare(actual, expected)
    if op == "ne":
        return order != 0
    if order is None:
        return False
    return {"eq": order == 0, "gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[op]


def conditions_hold(conditions: list[Condition] | list[dict], record: dict[str, Any]) -> bool:
    """True when every condition holds on `record` (an empty list holds)."""
    return all(condition_holds(c if isinstance(c, Condition) else Condition.model_validate(c), record)
               for c in conditions)

"""Does a workflow's trigger fire on a record event? `matches(trigger, event)`, a pure function.

The dispatcher (`serving.workflows.dispatch`) asks it for every claimed `record_events` row and every enabled
workflow of the event's tenant. Only event-driven triggers can match an event:

- `record`: `entity` (a singular label: deal, contact, ...), `actions` (create / update / delete; default all),
  `changed` (at least one of these fields is in the event's changes), `to` ({field: value}: every listed field
  changed and its new value equals that value, compared as text so a uuid in JSON matches a uuid in the trigger);
- `lead_score`: `crosses_above` (the score, probability x 100, was below the threshold or absent and is now at or
  above it) or `enters_tier` (the tier is now that one and was not before);
- `churn_risk`: `rises_by` (the risk, probability x 100, rose by at least that many points; a first score rises
  from nothing and does not count) or `enters_tier`;
- `sentiment`: `turns` (the recent sentiment label became negative / neutral / positive), optionally `entity`
  (contact or company).

Inactivity and schedule triggers fire from the dispatcher's scans, manual and inbound-webhook triggers from the
API: none of them matches an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

ACTION_OF_EVENT = {"created": "create", "updated": "update", "deleted": "delete"}
EVENT_TYPE_OF_TRIGGER = {"lead_score": "lead_score.changed", "churn_risk": "churn_risk.changed",
                         "sentiment": "sentiment.changed"}
EVENT_TRIGGERS = ("record", *EVENT_TYPE_OF_TRIGGER)


class Event(Protocol):   # what `crm.events.RecordEvent` has and this module reads
    event_type: str
    entity_type: str
    changes: Mapping[str, Any]


def as_dict(trigger: Any) -> dict:
    """A trigger as a plain dict, whether it came as JSON or as the validated definition's model."""
    if isinstance(trigger, Mapping):
        return dict(trigger)
    return trigger.model_dump(exclude_none=True)


def matches(trigger: Mapping[str, Any] | Any, event: Event) -> bool:
    trigger = as_dict(trigger)
    kind = trigger.get("type")
    if kind == "record":
        return _record(trigger, event)
    if event.event_type != EVENT_TYPE_OF_TRIGGER.get(kind):
        return False
    if kind == "lead_score":
        return _score(trigger, event, "crosses_above")
    if kind == "churn_risk":
        return _score(trigger, event, "rises_by")
    return _sentiment(trigger, event)


def _pair(changes: Mapping[str, Any], field: str) -> tuple[Any, Any] | None:
    value = changes.get(field)
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return str(a) == str(b)


def _record(trigger: dict, event: Event) -> bool:
    entity, _, suffix = event.event_type.partition(".")
    action = ACTION_OF_EVENT.get(suffix)
    if action is None or entity != trigger.get("entity") or entity != event.entity_type:
        return False
    actions = trigger.get("actions") or list(ACTION_OF_EVENT.values())
    if action not in actions:
        return False
    changed = trigger.get("changed") or []
    if changed and not any(field in event.changes for field in changed):
        return False
    for field, wanted in (trigger.get("to") or {}).items():
        pair = _pair(event.changes, field)
        if pair is None or not _same(pair[1], wanted):
            return False
    return True


def _points(value: Any) -> float | None:
    # rounded: 0.29 x 100 is 28.999999999999996 in binary floating point, and 29 must cross 29
    return None if value is None else round(float(value) * 100.0, 6)


def _score(trigger: dict, event: Event, threshold_key: str) -> bool:
    if "enters_tier" in trigger and trigger["enters_tier"] is not None:
        tiers = _pair(event.changes, "tier")
        return tiers is not None and tiers[1] == trigger["enters_tier"] and tiers[0] != trigger["enters_tier"]
    probability = _pair(event.changes, "probability")
    if probability is None or probability[1] is None:
        return False
    old, new = _points(probability[0]), _points(probability[1])
    if threshold_key == "crosses_above":
        threshold = float(trigger["crosses_above"])
        return new >= threshold and (old is None or old < threshold)
    return old is not None and new - old >= float(trigger["rises_by"])


def _sentiment(trigger: dict, event: Event) -> bool:
    if trigger.get("entity") and trigger["entity"] != event.entity_type:
        return False
    labels = _pair(event.changes, "label")
    return labels is not None and labels[1] == trigger.get("turns") and labels[0] != labels[1]

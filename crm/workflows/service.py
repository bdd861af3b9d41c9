"""Workflows of an agency: create (from a definition or a template), list, read, change, enable, disable,
delete, and start a run by hand or from an inbound webhook (a run's own reads are crm.workflows.runs).

Every write goes through crm.services.records, so it is recorded by `changes.record(session, "workflows", ...)`
(audit entry and change event, label `workflow`) in the caller's transaction. A definition is stored only
after crm.workflows.definition has validated it; a refusal is an `Invalid` whose field names the bad part
(`definition.steps[2]` ...), which the API answers with a 422.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db.models import Campaign, Company, Contact, Deal, User, WebhookSubscription, Workflow, WorkflowRun
from crm.services import records
from crm.services.errors import Invalid, InvalidReference, NotFound
from crm.workflows import templates
from crm.workflows.definition import DefinitionError, parse_definition
from crm.workflows.runs import start_run

RECORDS = {"contact": Contact, "company": Company, "deal": Deal}


# A step's reference and the record it must name in this agency (checked at save, so the 422 names the step;
# the step checks again when it runs, as the record may be deleted meanwhile).
_REFERENCES = {"send_webhook": ("subscription_id", WebhookSubscription, "webhook subscription"),
               "enroll_in_campaign": ("campaign_id", Campaign, "campaign"),
               "create_task": ("assignee", User, "user"), "draft_email": ("assignee", User, "user")}


def validated(session: Session, definition: dict[str, Any]) -> dict[str, Any]:
    """The definition as it will be stored, or Invalid naming the bad step, trigger or condition."""
    try:
        parsed = parse_definition(definition)
    except DefinitionError as exc:
        field = f"definition.steps.{exc.step}" if exc.step else "definition"
        raise Invalid(field, f"invalid workflow definition: {exc}") from None
    for index, step in enumerate(parsed.steps):
        name, model, label = _REFERENCES.get(step.type, (None, None, None))
        value = getattr(step.params, name, None) if name else None
        if isinstance(value, uuid.UUID) and session.get(model, value) is None:
            raise Invalid(f"definition.steps.{step.id}", f'invalid workflow definition: steps[{index}] "{step.id}": '
                                                         f"params.{name}: no {label} with this id in this workspace",
                          code="invalid-reference")
    return definition   # as the user wrote it (what they read back and PATCH); the engine parses it again


def from_template(name: str, params: dict[str, Any] | None) -> tuple[templates.Template, dict[str, Any]]:
    try:
        return templates.get(name), templates.instantiate(name, params)
    except templates.UnknownTemplate as exc:
        raise Invalid("template", str(exc), code="unknown-template") from None
    except templates.TemplateParamError as exc:
        raise Invalid(f"params.{exc.param}", str(exc)) from None


def create(session: Session, *, name: str | None = None, description: str | None = None,
           definition: dict[str, Any] | None = None, template: str | None = None,
           params: dict[str, Any] | None = None, enabled: bool = False) -> Workflow:
    if template is not None:
        made, definition = from_template(template, params)
        name, description = name or made.title, description if description is not None else made.description
    if not name:
        raise Invalid("name", "name is required")
    return records.insert(session, Workflow, {"name": name, "description": description or "",
                                              "enabled": enabled, "definition": validated(session, definition or {}),
                                              "template": template})


def get(session: Session, workflow_id: uuid.UUID, *, lock: bool = False) -> Workflow:
    """The workflow, or NotFound (another agency's looks exactly like a missing one); `lock` before a write."""
    found = session.get(Workflow, workflow_id, with_for_update={"key_share": True} if lock else None,
                        populate_existing=lock)
    if found is None:
        raise NotFound("workflow", workflow_id)
    return found


def update(session: Session, workflow: Workflow, changes: dict[str, Any]) -> Workflow:
    if "definition" in changes:
        changes = {**changes, "definition": validated(session, changes["definition"])}
    return records.apply(session, workflow, changes)


def set_enabled(session: Session, workflow: Workflow, enabled: bool) -> Workflow:
    return records.apply(session, workflow, {"enabled": enabled})


def delete(session: Session, workflow: Workflow) -> None:
    records.remove(session, workflow)


# --- reads ---------------------------------------------------------------------------------------------------

@dataclass
class Listed:
    workflow: Workflow
    runs: int
    last_run: WorkflowRun | None


def list_(session: Session) -> list[Listed]:
    """Every workflow of the tenant, newest first, with its number of runs and its latest run."""
    counts = dict(session.execute(select(WorkflowRun.workflow_id, func.count())
                                  .group_by(WorkflowRun.workflow_id)).all())
    latest = select(WorkflowRun).distinct(WorkflowRun.workflow_id).order_by(
        WorkflowRun.workflow_id, WorkflowRun.queued_at.desc(), WorkflowRun.id.desc())
    last = {r.workflow_id: r for r in session.scalars(latest)}
    flows = session.scalars(select(Workflow).order_by(Workflow.created_at.desc(), Workflow.id.desc()))
    return [Listed(w, counts.get(w.id, 0), last.get(w.id)) for w in flows]


def summary(session: Session, workflow: Workflow) -> Listed:
    runs = session.scalar(select(func.count()).where(WorkflowRun.workflow_id == workflow.id))
    last = session.scalar(select(WorkflowRun).where(WorkflowRun.workflow_id == workflow.id)
                          .order_by(WorkflowRun.queued_at.desc(), WorkflowRun.id.desc()).limit(1))
    return Listed(workflow, runs or 0, last)


# --- runs started by people and by inbound webhooks -------------------------------------------------------------

def start(session: Session, workflow: Workflow, trigger_key: str, trigger: dict[str, Any],
          entity_type: str | None = None, entity_id: uuid.UUID | None = None) -> tuple[WorkflowRun, bool]:
    """Queue a run under `trigger_key` (`manual:<key>`, `webhook:<key>`); (run, created). The same key twice
    starts one run: the second call gets the first run back with created False."""
    if entity_id is not None and session.get(RECORDS[entity_type], entity_id) is None:
        raise InvalidReference("entity_id")
    run_id = start_run(session, workflow.id, trigger_key, trigger, entity_type, entity_id)
    if run_id is not None:
        return session.get(WorkflowRun, run_id), True
    existing = session.scalar(select(WorkflowRun).where(WorkflowRun.workflow_id == workflow.id,
                                                        WorkflowRun.trigger_key == trigger_key))
    return existing, False

"""update_field, add_note and enroll_in_campaign: writes to CRM records, each through its domain service."""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from sqlalchemy.orm import Session

from crm.db.models import Campaign, Company, Contact, Deal, Task
from crm.schemas.companies import CompanyUpdate
from crm.schemas.contacts import ContactUpdate
from crm.schemas.deals import DealUpdate
from crm.schemas.notes import NoteCreate
from crm.schemas.tasks import TaskUpdate
from crm.services import campaigns, companies, contacts, deals, notes, records, tasks
from crm.workflows.definition import AddNoteParams, EnrollInCampaignParams, Step, UpdateFieldParams
from serving.workflows.context import RunContext, StepFailed
from serving.workflows.ledger import once

# entity label -> (model, its update schema, its service's update)
UPDATABLE = {"contact": (Contact, ContactUpdate, contacts.update),
             "company": (Company, CompanyUpdate, companies.update), "deal": (Deal, DealUpdate, deals.update),
             "task": (Task, TaskUpdate, tasks.update)}


def _update(session: Session, ctx: RunContext, field: str, value) -> dict:
    if ctx.entity_type not in UPDATABLE or ctx.entity_id is None:
        raise StepFailed(f"update_field needs a run about a {', '.join(UPDATABLE)}; this one is about "
                         f"{ctx.entity_type or 'no record'}")
    model, schema, update = UPDATABLE[ctx.entity_type]
    if field not in schema.model_fields:
        raise StepFailed(f"a {ctx.entity_type} has no field {field!r} a workflow can set "
                         f"(one of {', '.join(schema.model_fields)})")
    try:
        changes = schema.model_validate({field: value})
    except ValidationError as exc:
        raise StepFailed(f"{field}: {exc.errors()[0]['msg']} ({value!r})") from None
    obj = records.find(session, model, uuid.UUID(ctx.entity_id))
    before = getattr(obj, field)
    update(session, obj, changes)
    return {"entity_type": ctx.entity_type, "entity_id": ctx.entity_id, "field": field,
            "before": before, "after": getattr(obj, field)}


def update_field(ctx: RunContext, step: Step) -> dict:
    params: UpdateFieldParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"),
                lambda session, _: _update(session, ctx, params.field, params.value))


def _note(session: Session, ctx: RunContext, body: str) -> dict:
    links = {k: v for k, v in ctx.links(session).items() if v is not None}
    if not links:
        raise StepFailed("add_note needs a run about a contact, company or deal (or a record linked to one)")
    note = notes.create(session, NoteCreate(body=body, **links))
    return {"note_id": str(note.id), **links}


def add_note(ctx: RunContext, step: Step) -> dict:
    params: AddNoteParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"), lambda session, _: _note(session, ctx, params.body))


def _enroll(session: Session, ctx: RunContext, campaign_id: uuid.UUID) -> dict:
    contact_id = ctx.links(session).get("contact_id")
    if contact_id is None:
        raise StepFailed("enroll_in_campaign needs a run about a contact (or a record with a contact)")
    campaign = records.find(session, Campaign, campaign_id)
    added, already = campaigns.add_members(session, campaign, [uuid.UUID(contact_id)])
    return {"campaign_id": str(campaign_id), "contact_id": contact_id, "enrolled": bool(added),
            "already_member": bool(already)}


def enroll_in_campaign(ctx: RunContext, step: Step) -> dict:
    params: EnrollInCampaignParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"),
                lambda session, _: _enroll(session, ctx, params.campaign_id))

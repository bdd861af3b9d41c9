"""update_field, add_note and enroll_in_campaign: writes to CRM records, each through its domain service.

update_field and add_note have one implementation for one step and for many (a batch's deferred steps,
set-based: `update_fields`, `add_notes`), each change recorded by its own run."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from crm.db.models import Campaign, Company, Contact, Deal, Task
from crm.schemas.companies import CompanyUpdate
from crm.schemas.contacts import ContactUpdate
from crm.schemas.deals import DealUpdate
from crm.schemas.notes import NoteCreate
from crm.schemas.tasks import TaskUpdate
from crm.services import campaigns, companies, contacts, deals, notes, records, tasks
from crm.services.actor import set_actor
from crm.workflows.definition import AddNoteParams, EnrollInCampaignParams, Step, UpdateFieldParams
from serving.workflows.context import RunContext, StepFailed, records_of
from serving.workflows.ledger import Deferred, once

# entity label -> (model, its update schema, its service's update, its set-based update or None)
UPDATABLE = {"contact": (Contact, ContactUpdate, contacts.update, None),
             "company": (Company, CompanyUpdate, companies.update, None),
             "deal": (Deal, DealUpdate, deals.update, deals.update_many),
             "task": (Task, TaskUpdate, tasks.update, None)}


def _changes(ctx: RunContext, field: str, value: Any) -> BaseModel:
    """The update schema's changes setting `field` to `value` on the run's record, or StepFailed."""
    if ctx.entity_type not in UPDATABLE or ctx.entity_id is None:
        raise StepFailed(f"update_field needs a run about a {', '.join(UPDATABLE)}; this one is about "
                         f"{ctx.entity_type or 'no record'}")
    schema = UPDATABLE[ctx.entity_type][1]
    if field not in schema.model_fields:
        raise StepFailed(f"a {ctx.entity_type} has no field {field!r} a workflow can set "
                         f"(one of {', '.join(schema.model_fields)})")
    try:
        return schema.model_validate({field: value})
    except ValidationError as exc:
        raise StepFailed(f"{field}: {exc.errors()[0]['msg']} ({value!r})") from None


def update_fields(session: Session, wanted: list[tuple[RunContext, UpdateFieldParams]]) -> list[dict]:
    """Set each run's field through its record's service, in order: a set-based update for the kinds that have
    one (the records locked in one statement), else one by one. What each step records as its output."""
    changes = [_changes(ctx, params.field, params.value) for ctx, params in wanted]
    kinds: dict[str, list[int]] = {}
    for n, (ctx, _) in enumerate(wanted):
        kinds.setdefault(ctx.entity_type, []).append(n)
    outputs: list[dict] = [{}] * len(wanted)
    for kind, positions in kinds.items():
        model, _, update, update_many = UPDATABLE[kind]
        found = records.find_many(session, model, [uuid.UUID(wanted[n][0].entity_id) for n in positions], lock=True)
        current = {}   # (id, field) -> its value after the changes so far: the next change's "before"
        for n in positions:
            ctx, params = wanted[n]
            obj = found[uuid.UUID(ctx.entity_id)]
            before = current.get((obj.id, params.field), getattr(obj, params.field))
            if update_many is None:
                set_actor(session, ctx.actor)
                update(session, obj, changes[n])
            current[(obj.id, params.field)] = getattr(changes[n], params.field)
            outputs[n] = {"entity_type": kind, "entity_id": ctx.entity_id, "field": params.field, "before": before,
                          "after": current[(obj.id, params.field)]}
        if update_many is not None:
            update_many(session, [(uuid.UUID(wanted[n][0].entity_id), changes[n]) for n in positions],
                        [wanted[n][0].actor for n in positions])
    return outputs


def _many_fields(session: Session, deferred: list[Deferred]) -> list[dict]:
    return update_fields(session, [(d.ctx, d.item) for d in deferred])


def update_field(ctx: RunContext, step: Step) -> dict:
    params: UpdateFieldParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"),
                lambda session, _: update_fields(session, [(ctx, params)])[0], many=_many_fields, item=params)


def add_notes(session: Session, wanted: list[tuple[RunContext, str]]) -> list[dict]:
    """A note about each run's record (body as given) through the note service, in one statement."""
    found = records_of(session, [ctx for ctx, _ in wanted])
    payloads, links = [], []
    for (ctx, body), record in zip(wanted, found, strict=True):
        linked = {k: v for k, v in ctx.links(session, record).items() if v is not None}
        if not linked:
            raise StepFailed("add_note needs a run about a contact, company or deal (or a record linked to one)")
        payloads.append(NoteCreate(body=body, **linked))
        links.append(linked)
    ids = notes.create_many(session, payloads, actors=[ctx.actor for ctx, _ in wanted])
    return [{"note_id": str(note_id), **linked} for note_id, linked in zip(ids, links, strict=True)]


def _many_notes(session: Session, deferred: list[Deferred]) -> list[dict]:
    return add_notes(session, [(d.ctx, d.item) for d in deferred])


def add_note(ctx: RunContext, step: Step) -> dict:
    params: AddNoteParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"),
                lambda session, _: add_notes(session, [(ctx, params.body)])[0], many=_many_notes, item=params.body)


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

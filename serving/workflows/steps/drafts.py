"""draft_email: a follow-up email grounded in the contact's history, kept as a draft for a person.

The draft is written by `serving.email_draft` (offline template or the configured chat model) outside any
transaction; it is kept as a task for the chosen person (the record's owner by default) whose description
carries the subject and body, so nothing is sent without someone reading it. The step's output holds the draft
too. The contact is the run's record, or the contact of a deal / activity / note / task; for a company, its
contact with the most recent activity.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.workflows.definition import DraftEmailParams, Step
from serving.llm import get_chat_model
from serving.workflows.context import RunContext, StepFailed
from serving.workflows.ledger import once
from serving.workflows.steps.tasks import create_for

_COMPANY_CONTACT = text("""
select c.id from contacts c
  left join lateral (select max(a.occurred_at) as last from activities a where a.contact_id = c.id) a on true
 where c.company_id = :id order by a.last desc nulls last, c.created_at limit 1
""")


def _contact_of(ctx: RunContext) -> uuid.UUID:
    with tenant_session(ctx.tenant_id) as session:
        if ctx.entity_type == "company" and ctx.entity_id is not None:
            contact = session.execute(_COMPANY_CONTACT, {"id": ctx.entity_id}).scalar()
        else:
            contact = ctx.links(session).get("contact_id")
    if contact is None:
        raise StepFailed(f"draft_email needs a contact to write to; this run's {ctx.entity_type or 'trigger'} "
                         "has none")
    return uuid.UUID(str(contact))


def _compose(ctx: RunContext) -> dict:
    from serving.email_draft import draft, read_contact  # LanceDB and the embedder: only when a draft is due

    contact_id = _contact_of(ctx)
    with tenant_session(ctx.tenant_id) as session:
        records = read_contact(session, contact_id)
    llm = get_chat_model()
    try:
        email, how = draft(records, llm), ("model" if llm is not None else "offline template")
    except Exception as error:   # a provider error: the offline template, said so
        if llm is None:
            raise
        email, how = draft(records, None), f"offline template (the model failed: {type(error).__name__})"
    return {"contact_id": str(contact_id), "composed_by": how, **email.to_dict()}


def draft_email(ctx: RunContext, step: Step) -> dict:
    params: DraftEmailParams = step.params

    def keep(session, email: dict) -> dict:
        title = f"Review and send the drafted email: {email['subject']}"[:200]
        body = f"Subject: {email['subject']}\n\n{email['body']}"
        task = create_for(session, ctx, title, body, params.due_in_minutes, params.assignee)
        return {**email, "draft_task": task}

    return once(ctx, step.id, params.model_dump(mode="json"), keep, prepare=lambda: _compose(ctx))

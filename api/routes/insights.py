"""Questions about a company, a contact or the whole workspace, and follow-up email drafts.

Both read only the caller's tenant: the ids are looked up under row-level security (another tenant's id
is 404, as a missing one is) and retrieval is prefiltered by tenant.

One tenant transaction per request for the entity and its facts (a few indexed queries). The insights
agent runs after it, in the thread pool: its record tools open their own short tenant transactions, and
planning, embedding, search and a chat model's answer hold no connection and no db slot: a chat model can
take seconds, and twenty questions waiting on one must not stall every other request of the API (see crm/db/slots.py).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentPrincipal, in_tenant_transaction
from api.errors import not_found
from api.schemas.insights import EmailDraftRead, InsightCreate, InsightRead
from crm.db.slots import held_slot
from serving import llm
from serving.email_draft import draft, read_contact
from serving.insights import EntityNotFound, read_records
from serving.insights_agent import ask

router = APIRouter(tags=["insights"])


ITEMS_PER_GROUP = 200  # a group's `items` page; its `count` is the whole set


@router.post("/insights", response_model=InsightRead, summary="Answer a question with citations")
async def create_insight(body: InsightCreate, principal: CurrentPrincipal) -> dict:
    """The insights agent: which/how many/who questions answer with every matching record, grouped, counted
    and cited; why-questions group reasons by theme; a question about one record quotes its texts and facts."""
    try:
        records = await in_tenant_transaction(principal, read_records, body.question, body.company_id,
                                              body.contact_id)
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    model = llm.get_chat_model()
    if model is None:   # offline: a fraction of a second, its short record reads inside a db slot like any read
        async with held_slot():
            found = await run_in_threadpool(ask, records, None)
    else:               # a model can take seconds: its record reads go without a slot, as the email draft's
        found = await run_in_threadpool(ask, records, model)
    return found.to_dict(ITEMS_PER_GROUP)


@router.post("/contacts/{contact_id}/email-draft", response_model=EmailDraftRead,
             summary="Draft a follow-up email grounded in the contact's history")
async def create_email_draft(contact_id: uuid.UUID, principal: CurrentPrincipal) -> dict:
    try:
        records = await in_tenant_transaction(principal, read_contact, contact_id)
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    email = await run_in_threadpool(draft, records, llm.get_chat_model())
    return email.to_dict()

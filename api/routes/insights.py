"""Questions about a company, a contact or the whole workspace, and follow-up email drafts.

Both read only the caller's tenant: the ids are looked up under row-level security (another tenant's id
is 404, as a missing one is) and retrieval is prefiltered by tenant.

One tenant transaction per request, and it holds only the PostgreSQL reads (the entity and its facts:
a few indexed queries). Embedding, search, quoting and a chat model's answer come after it, in the thread
pool, holding no connection and no db slot: a chat model can take seconds, and twenty questions waiting
on one must not stall every other request of the API (see crm/db/slots.py).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentPrincipal, in_tenant_transaction
from api.errors import not_found
from api.schemas.insights import EmailDraftRead, InsightCreate, InsightRead
from serving import llm
from serving.email_draft import draft, read_contact
from serving.insights import EntityNotFound, answer, read_records

router = APIRouter(tags=["insights"])


@router.post("/insights", response_model=InsightRead, summary="Answer a question with citations")
async def create_insight(body: InsightCreate, principal: CurrentPrincipal) -> dict:
    try:
        records = await in_tenant_transaction(principal, read_records, body.question, body.company_id,
                                              body.contact_id)
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    insight = await run_in_threadpool(answer, records, llm.get_chat_model())
    return insight.to_dict()


@router.post("/contacts/{contact_id}/email-draft", response_model=EmailDraftRead,
             summary="Draft a follow-up email grounded in the contact's history")
async def create_email_draft(contact_id: uuid.UUID, principal: CurrentPrincipal) -> dict:
    try:
        records = await in_tenant_transaction(principal, read_contact, contact_id)
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    email = await run_in_threadpool(draft, records, llm.get_chat_model())
    return email.to_dict()

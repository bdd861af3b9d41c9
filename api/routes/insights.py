"""Questions about a company, a contact or the whole workspace, and follow-up email drafts.

Both read only the caller's tenant: the ids are looked up under row-level security (another tenant's id
is 404, as a missing one is) and retrieval is prefiltered by tenant. The work (embedding the question,
search, composing) is CPU-bound, so these are plain `def` routes that FastAPI runs in its thread pool.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import CurrentPrincipal
from api.errors import not_found
from api.schemas.insights import EmailDraftRead, InsightCreate, InsightRead
from serving import llm
from serving.email_draft import draft_follow_up
from serving.insights import EntityNotFound, answer_question

router = APIRouter(tags=["insights"])


@router.post("/insights", response_model=InsightRead, summary="Answer a question with citations")
def create_insight(body: InsightCreate, principal: CurrentPrincipal) -> dict:
    try:
        insight = answer_question(principal.tenant_id, body.question, body.company_id, body.contact_id,
                                  llm=llm.get_chat_model())
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    return insight.to_dict()


@router.post("/contacts/{contact_id}/email-draft", response_model=EmailDraftRead,
             summary="Draft a follow-up email grounded in the contact's history")
def create_email_draft(contact_id: uuid.UUID, principal: CurrentPrincipal) -> dict:
    try:
        draft = draft_follow_up(principal.tenant_id, contact_id, llm=llm.get_chat_model())
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    return draft.to_dict()

"""The next best action for a company (account) or a contact (lead), with reasons each cited to its record.

Read in the caller's one tenant transaction (`serving.next_action.recommend`): a few indexed queries and
rules, no model, so the answer is immediate and the same records always give the same action. Another
tenant's id is 404, as a missing one is.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import CurrentPrincipal, in_tenant_transaction
from api.errors import not_found
from api.schemas.next_action import NextActionRead
from serving.next_action import EntityNotFound, EntityType, recommend

router = APIRouter(tags=["next action"])


async def _next_action(principal, entity_type: EntityType, entity_id: uuid.UUID) -> dict:
    try:
        rec = await in_tenant_transaction(principal, recommend, entity_type, entity_id)
    except EntityNotFound as exc:
        raise not_found(exc.kind, exc.id) from None
    return rec.to_dict()


@router.get("/companies/{company_id}/next-action", response_model=NextActionRead,
            summary="The next best action for an account, with cited reasons")
async def company_next_action(company_id: uuid.UUID, principal: CurrentPrincipal) -> dict:
    return await _next_action(principal, "company", company_id)


@router.get("/contacts/{contact_id}/next-action", response_model=NextActionRead,
            summary="The next best action for a contact (lead), with cited reasons")
async def contact_next_action(contact_id: uuid.UUID, principal: CurrentPrincipal) -> dict:
    return await _next_action(principal, "contact", contact_id)

import uuid

from fastapi import APIRouter, Response

from api.crud import Resource, crud_router, get_or_404
from api.deps import CurrentPrincipal, SessionDep, WriterDep
from api.idempotency import IdempotencyDep
from crm.db.models import Campaign
from crm.schemas.campaigns import CampaignCreate, CampaignRead, CampaignUpdate, MemberRead, MembersAdd
from crm.services import campaigns


def _member_routes(router: APIRouter) -> None:
    @router.get("/{id}/members", summary="List a campaign's contacts")
    def members(id: uuid.UUID, session: SessionDep, _: CurrentPrincipal) -> dict:
        rows = campaigns.members(session, get_or_404(session, resource, id))
        return {"data": [MemberRead.model_validate(r).model_dump(mode="json") for r in rows], "next_cursor": None}

    @router.post("/{id}/members", status_code=201, summary="Add contacts to a campaign (idempotent)")
    def add_members(id: uuid.UUID, payload: MembersAdd, session: SessionDep, principal: WriterDep,
                    idem: IdempotencyDep):
        def write():
            added, already = campaigns.add_members(session, get_or_404(session, resource, id), payload.contact_ids)
            return {"added": added, "already_members": already}, {}
        return idem.respond(session, principal, 201, write)

    @router.delete("/{id}/members/{contact_id}", status_code=204, summary="Remove a contact from a campaign")
    def remove_member(id: uuid.UUID, contact_id: uuid.UUID, session: SessionDep, _: WriterDep) -> Response:
        campaigns.remove_member(session, id, contact_id)
        return Response(status_code=204)


resource = Resource(
    name="campaigns", label="campaign", model=Campaign, service=campaigns,
    create=CampaignCreate, update=CampaignUpdate, read=CampaignRead,
    search=("name",), filters=("channel", "status"), extra_routes=[_member_routes],
)
router = crud_router(resource)

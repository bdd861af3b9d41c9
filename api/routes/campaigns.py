import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from api.crud import Resource, crud_router, get_or_404
from api.deps import CurrentPrincipal, SessionDep, WriterDep
from api.errors import not_found
from api.idempotency import IdempotencyDep
from crm.db.models import Campaign, CampaignMember
from crm.schemas.campaigns import CampaignCreate, CampaignRead, CampaignUpdate, MemberRead, MembersAdd


def _member_routes(router: APIRouter) -> None:
    @router.get("/{id}/members", summary="List a campaign's contacts")
    def members(id: uuid.UUID, session: SessionDep, _: CurrentPrincipal) -> dict:
        get_or_404(session, resource, id)
        rows = session.scalars(select(CampaignMember).where(CampaignMember.campaign_id == id)
                               .order_by(CampaignMember.added_at)).all()
        return {"data": [MemberRead.model_validate(r).model_dump(mode="json") for r in rows], "next_cursor": None}

    @router.post("/{id}/members", status_code=201, summary="Add contacts to a campaign (idempotent)")
    def add_members(id: uuid.UUID, payload: MembersAdd, session: SessionDep, principal: WriterDep,
                    idem: IdempotencyDep):
        def write():
            get_or_404(session, resource, id)
            rows = [{"tenant_id": principal.tenant_id, "campaign_id": id, "contact_id": c}
                    for c in dict.fromkeys(payload.contact_ids)]
            stmt = insert(CampaignMember).values(rows).on_conflict_do_nothing(
                index_elements=["tenant_id", "campaign_id", "contact_id"]).returning(CampaignMember.contact_id)
            # count returned rows: an ORM-enabled insert reports rowcount -1
            added = len(session.execute(stmt).all())
            return {"added": added, "already_members": len(rows) - added}, {}
        return idem.respond(session, principal, 201, write)

    @router.delete("/{id}/members/{contact_id}", status_code=204, summary="Remove a contact from a campaign")
    def remove_member(id: uuid.UUID, contact_id: uuid.UUID, session: SessionDep, _: WriterDep) -> Response:
        member = session.scalar(select(CampaignMember).where(CampaignMember.campaign_id == id,
                                                             CampaignMember.contact_id == contact_id)
                                .with_for_update())   # a concurrent removal: we wait, then find nothing (404)
        if member is None:
            raise not_found("campaign member", contact_id)
        session.delete(member)
        session.flush()
        return Response(status_code=204)


resource = Resource(
    name="campaigns", label="campaign", model=Campaign,
    create=CampaignCreate, update=CampaignUpdate, read=CampaignRead,
    search=("name",), filters=("channel", "status"), extra_routes=[_member_routes],
)
router = crud_router(resource)

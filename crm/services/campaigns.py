"""Campaigns and their members: adding contacts is idempotent, and each must be a contact of this tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from crm.db.engine import session_tenant
from crm.db.models import Campaign, CampaignMember, Contact
from crm.schemas.campaigns import CampaignCreate, CampaignUpdate
from crm.services import records
from crm.services.changes import record
from crm.services.errors import InvalidReference, NotFound
from crm.tenancy import Principal


def create(session: Session, payload: CampaignCreate, actor: Principal | None = None) -> Campaign:
    return records.insert(session, Campaign, payload.model_dump())


def update(session: Session, campaign: Campaign, changes: CampaignUpdate) -> Campaign:
    return records.apply(session, campaign, changes.model_dump(exclude_unset=True))


def delete(session: Session, campaign: Campaign) -> None:
    records.remove(session, campaign)


def members(session: Session, campaign: Campaign) -> list[CampaignMember]:
    return list(session.scalars(select(CampaignMember).where(CampaignMember.campaign_id == campaign.id)
                                .order_by(CampaignMember.added_at)))


def add_members(session: Session, campaign: Campaign, contact_ids: list[uuid.UUID]) -> tuple[int, int]:
    """(added, already members): a contact already in the campaign is left as it is."""
    wanted = list(dict.fromkeys(contact_ids))
    known = set(session.scalars(select(Contact.id).where(Contact.id.in_(wanted))))
    if len(known) < len(wanted):
        raise InvalidReference("contact_ids")
    tenant_id = session_tenant(session)
    stmt = insert(CampaignMember).values([{"tenant_id": tenant_id, "campaign_id": campaign.id, "contact_id": c}
                                          for c in wanted])
    stmt = stmt.on_conflict_do_nothing(index_elements=["tenant_id", "campaign_id", "contact_id"])
    # count returned rows: an ORM-enabled insert reports rowcount -1
    added = [row[0] for row in session.execute(stmt.returning(CampaignMember.contact_id))]
    record(session, "campaigns", campaign.id, "update", {"members_added": [None, added]})
    return len(added), len(wanted) - len(added)


def remove_member(session: Session, campaign_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    member = session.scalar(select(CampaignMember).where(CampaignMember.campaign_id == campaign_id,
                                                         CampaignMember.contact_id == contact_id)
                            .with_for_update())   # a concurrent removal: we wait, then find nothing
    if member is None:
        raise NotFound("campaign member", contact_id)
    session.delete(member)
    session.flush()
    record(session, "campaigns", campaign_id, "update", {"members_removed": [[contact_id], None]})

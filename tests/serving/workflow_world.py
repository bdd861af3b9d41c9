"""A small agency for workflow engine tests: users, a company, a contact, a deal, a campaign, a webhook
subscription, all written through the domain services; and helpers to create workflows and start runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select, text

from crm.db.engine import admin_engine, tenant_session
from crm.db.models import User
from crm.schemas.activities import ActivityCreate
from crm.schemas.campaigns import CampaignCreate
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.schemas.deals import DealCreate
from crm.schemas.pipelines import PipelineCreate
from crm.services import activities, campaigns, companies, contacts, deals, pipelines
from crm.webhooks import subscriptions
from crm.workflows import service
from crm.workflows.runs import get_run, start_run


def build_world(tenant_id: str) -> dict:
    with tenant_session(tenant_id) as s:
        owner, second = (_user(s, tenant_id, name) for name in ("Owner", "Second"))
        admin = s.scalar(select(User.id).where(User.role == "admin"))
        pipelines.create(s, PipelineCreate(name="Sales", is_default=True))
        company = companies.create(s, CompanyCreate(name="Acme", owner_id=owner))
        contact = contacts.create(s, ContactCreate(email=f"jo-{uuid.uuid4().hex[:6]}@acme.example",
                                                   first_name="Jo", last_name="Buyer", company_id=company.id,
                                                   owner_id=owner))
        deal = deals.create(s, DealCreate(name="Acme retainer", company_id=company.id, contact_id=contact.id,
                                          amount=Decimal("5000"), owner_id=owner))
        campaign = campaigns.create(s, CampaignCreate(name="Spring", channel="email"))
        hook = subscriptions.create(s, "https://93.184.215.14/hooks/crm", ["workflow.*"]).subscription
        return {"tenant_id": tenant_id, "owner": owner, "second": second, "admin": admin, "company": company.id,
                "contact": contact.id, "deal": deal.id, "campaign": campaign.id, "hook": hook.id}


def _user(session, tenant_id: str, name: str) -> uuid.UUID:
    """A user who never signs in (no password: no argon2 hash to compute)."""
    user = User(tenant_id=uuid.UUID(tenant_id), email=f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com", name=name)
    session.add(user)
    session.flush()
    return user.id


def add_contact_with_email(tenant_id: str, body: str, subject: str = "Re: our proposal") -> uuid.UUID:
    with tenant_session(tenant_id) as s:
        contact = contacts.create(s, ContactCreate(email=f"c-{uuid.uuid4().hex[:8]}@client.example",
                                                   first_name="Sam"))
        activities.create(s, ActivityCreate(type="email_replied", occurred_at=datetime.now(UTC), subject=subject,
                                            body=body, contact_id=contact.id))
        return contact.id


def make_workflow(tenant_id: str, steps: list[dict], name: str = "Test workflow") -> uuid.UUID:
    with tenant_session(tenant_id) as s:
        return service.create(s, name=name, definition={"trigger": {"type": "manual"}, "steps": steps},
                              enabled=True).id


def start(tenant_id: str, workflow_id: uuid.UUID, entity_type: str | None, entity_id) -> str:
    with tenant_session(tenant_id) as s:
        return str(start_run(s, workflow_id, f"manual:{uuid.uuid4()}", {"type": "manual"}, entity_type, entity_id))


def run_of(tenant_id: str, run_id: str) -> dict:
    with tenant_session(tenant_id) as s:
        return get_run(s, run_id)


def count(tenant_id: str, sql: str, **params) -> int:
    with tenant_session(tenant_id) as s:
        return s.execute(text(sql), params).scalar()


def admin_sql(sql: str, **params):
    with admin_engine().begin() as conn:
        result = conn.execute(text(sql), params)
        return result.scalar() if result.returns_rows else None

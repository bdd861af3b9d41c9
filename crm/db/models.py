"""SQLAlchemy models mapped onto the schema created by the migrations (tests check they agree)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        date: Date,
        dict[str, Any]: JSONB,
        Decimal: Numeric(14, 2),
    }


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class TenantOwned(Timestamped):
    """A row of a reference table (crm.db.distribution): keyed by `id` alone."""
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))


class Distributed(Timestamped):
    """A row of a table distributed by tenant_id: the table's key is (tenant_id, id), as Citus needs
    (migration 0009), while the ORM's identity stays `id`, unique on its own, so `session.get(Model, id)`
    works under the tenant's RLS session."""
    id: Mapped[uuid.UUID] = mapped_column(server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (PrimaryKeyConstraint("tenant_id", "id", name=f"{cls.__tablename__}_pkey"),)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"primary_key": [cls.__table__.c.id]}


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    name: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    churn_mode: Mapped[str] = mapped_column(Text, server_default="contractual")


class User(TenantOwned, Base):
    __tablename__ = "users"
    email: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, server_default="")
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, server_default="member")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class ApiKey(TenantOwned, Base):
    __tablename__ = "api_keys"
    name: Mapped[str] = mapped_column(Text, server_default="")
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text, server_default="member")
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Company(Distributed, Base):
    __tablename__ = "companies"
    name: Mapped[str] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    size: Mapped[str | None] = mapped_column(Text)
    lifecycle: Mapped[str] = mapped_column(Text, server_default="prospect")
    owner_id: Mapped[uuid.UUID | None]
    customer_since: Mapped[date | None]
    churned_at: Mapped[datetime | None]


class Contact(Distributed, Base):
    __tablename__ = "contacts"
    company_id: Mapped[uuid.UUID | None]
    first_name: Mapped[str] = mapped_column(Text, server_default="")
    last_name: Mapped[str] = mapped_column(Text, server_default="")
    email: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    lead_source: Mapped[str | None] = mapped_column(Text)
    lifecycle_stage: Mapped[str] = mapped_column(Text, server_default="lead")
    owner_id: Mapped[uuid.UUID | None]


class Pipeline(Distributed, Base):
    __tablename__ = "pipelines"
    name: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class PipelineStage(Distributed, Base):
    __tablename__ = "pipeline_stages"
    pipeline_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    win_probability: Mapped[Decimal] = mapped_column(Numeric(4, 3), server_default="0")
    is_won: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    is_lost: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Deal(Distributed, Base):
    __tablename__ = "deals"
    name: Mapped[str] = mapped_column(Text)
    company_id: Mapped[uuid.UUID | None]
    contact_id: Mapped[uuid.UUID | None]
    pipeline_id: Mapped[uuid.UUID]
    stage_id: Mapped[uuid.UUID]
    amount: Mapped[Decimal] = mapped_column(server_default="0")
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    expected_close_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(Text, server_default="open")
    closed_at: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID | None]


class DealStageHistory(Distributed, Base):
    __tablename__ = "deal_stage_history"
    deal_id: Mapped[uuid.UUID]
    from_stage_id: Mapped[uuid.UUID | None]
    to_stage_id: Mapped[uuid.UUID]
    changed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Campaign(Distributed, Base):
    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    budget: Mapped[Decimal] = mapped_column(server_default="0")
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]


class CampaignMember(Distributed, Base):
    __tablename__ = "campaign_members"
    campaign_id: Mapped[uuid.UUID]
    contact_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(Text, server_default="member")
    added_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Activity(Distributed, Base):
    __tablename__ = "activities"
    type: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime]
    contact_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    deal_id: Mapped[uuid.UUID | None]
    campaign_id: Mapped[uuid.UUID | None]
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    source: Mapped[str] = mapped_column(Text, server_default="api")
    external_id: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))


class Note(Distributed, Base):
    __tablename__ = "notes"
    body: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    deal_id: Mapped[uuid.UUID | None]
    author_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Task(Distributed, Base):
    __tablename__ = "tasks"
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    is_done: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    done_at: Mapped[datetime | None]
    assignee_id: Mapped[uuid.UUID | None]
    contact_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    deal_id: Mapped[uuid.UUID | None]


# ---- slice B (issue 16): outbound webhooks, migration 0017 -------------------------------------------------------

class WebhookSubscription(Distributed, Base):
    __tablename__ = "webhook_subscriptions"
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{*}'"))
    secret: Mapped[str] = mapped_column(Text)   # signs deliveries; shown by the API at creation / rotation only
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]


class WebhookDelivery(Distributed, Base):
    __tablename__ = "webhook_deliveries"
    subscription_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(Text, server_default="pending")   # pending|delivered|failed|dead
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(server_default=text("now()"))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


# ---- slice A (issue 16): audit log and record events (outbox), migration 0016 ------------------------------------

class AuditEntry(Base):
    """One recorded change, append-only for the application (written by crm.services.changes)."""
    __tablename__ = "audit_log"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "id", name="audit_log_pkey"),)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    id: Mapped[int] = mapped_column(BigInteger, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None]
    actor_label: Mapped[str] = mapped_column(Text, server_default="")
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(Text)


class RecordEventRow(Base):
    """The outbox: record changes and AI signals waiting for their consumers (crm.events)."""
    __tablename__ = "record_events"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "id", name="record_events_pkey"),)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    id: Mapped[int] = mapped_column(BigInteger, autoincrement=True)
    event_type: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID]
    changes: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


# ---- slice C1 (issue 16): workflows, runs and step runs, migration 0018 -----------------------------------------

class Workflow(Distributed, Base):
    __tablename__ = "workflows"
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    definition: Mapped[dict[str, Any]]
    template: Mapped[str | None] = mapped_column(Text)


class WorkflowRun(Base):
    __tablename__ = "workflow_runs"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "id", name="workflow_runs_pkey"),)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    id: Mapped[uuid.UUID] = mapped_column(server_default=text("gen_random_uuid()"))
    workflow_id: Mapped[uuid.UUID]
    trigger_key: Mapped[str] = mapped_column(Text)
    trigger: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    entity_type: Mapped[str | None] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID | None]
    definition: Mapped[dict[str, Any]]   # the workflow's definition when the run was queued
    status: Mapped[str] = mapped_column(Text, server_default="queued")   # queued|running|waiting|succeeded|failed
    resume_at: Mapped[datetime | None]
    current_step: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:   # identity `id` alone, as for Distributed: session.get(WorkflowRun, id)
        return {"primary_key": [cls.__table__.c.id]}


class WorkflowStepRun(Base):
    __tablename__ = "workflow_step_runs"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "run_id", "step_id", name="workflow_step_runs_pkey"),)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    run_id: Mapped[uuid.UUID]
    step_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)   # running|waiting|succeeded|failed
    input: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    output: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

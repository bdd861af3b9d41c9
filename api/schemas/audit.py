"""The audit log as the API reads it (`GET /api/v1/audit`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Increases with every entry the agency writes: newest first is highest first")
    occurred_at: datetime = Field(description="When the write's transaction ran")
    actor_type: Literal["user", "api_key", "workflow_run", "import", "pipeline", "events", "system"]
    actor_id: uuid.UUID | None = Field(description="The user, API key or workflow run; null when none applies")
    actor_label: str = Field(description="A readable name: the user's name, the imported file's name ...")
    entity_type: str = Field(description="contact, company, deal, activity, note, task, campaign, pipeline, "
                                         "stage, tenant, workflow, webhook")
    entity_id: uuid.UUID
    action: Literal["create", "update", "delete"]
    changes: dict[str, Any] = Field(description="Each changed field as [old, new] (JSON values; null for none)")
    request_id: str | None = Field(description="The API or dashboard request that made the change (X-Request-ID)")


class AuditPage(BaseModel):
    data: list[AuditEntryRead]
    next_cursor: str | None

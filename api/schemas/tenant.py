"""Schemas for the agency's own settings (`/tenant/settings`, admins only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crm.schemas.base import RequestModel

ChurnMode = Literal["contractual", "activity"]
CHURN_MODE_HELP = ("contractual: an account churns when its contract ends (churned_at is set); activity: a customer "
                   "churns when it places no order in the next 90 days. A change relabels at the next pipeline run.")


class TenantSettingsRead(BaseModel):
    tenant_id: uuid.UUID
    name: str
    churn_mode: ChurnMode = Field(description=CHURN_MODE_HELP)
    updated_at: datetime


class TenantSettingsUpdate(RequestModel):
    churn_mode: ChurnMode | None = Field(default=None, description=CHURN_MODE_HELP)

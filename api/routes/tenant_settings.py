"""`/tenant/settings`: an agency's admins read and change its settings (today: the churn mode).

Admins only (other roles 403). The session is the caller's tenant session, so the only tenant row it can see
or change is its own; crm.tenancy holds the rule and records the change.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep
from api.schemas.tenant import TenantSettingsRead, TenantSettingsUpdate
from crm import tenancy

router = APIRouter(tags=["tenant"])


@router.get("/tenant/settings", response_model=TenantSettingsRead, summary="The agency's settings")
def read_settings(principal: AdminDep, session: SessionDep) -> dict:
    return tenancy.tenant_settings(session)


@router.patch("/tenant/settings", response_model=TenantSettingsRead,
              summary="Change the agency's settings; a new churn mode relabels at the next pipeline run")
def update_settings(body: TenantSettingsUpdate, principal: AdminDep, session: SessionDep) -> dict:
    return tenancy.update_tenant_settings(session, churn_mode=body.churn_mode)

"""Companies: churned_at follows lifecycle (the data platform's churn label reads it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm.db.models import Company
from crm.schemas.companies import CompanyCreate, CompanyUpdate
from crm.services import records
from crm.tenancy import Principal


def _churn_stamp(session: Session, company: Company | None, lifecycle: str | None) -> dict[str, Any]:
    """Churning stamps the moment once (a repeat keeps the first); back to prospect or customer clears it."""
    if lifecycle == "churned" and (company is None or company.churned_at is None):
        return {"churned_at": records.now(session)}
    if lifecycle in ("prospect", "customer"):
        return {"churned_at": None}
    return {}


def create(session: Session, payload: CompanyCreate, actor: Principal | None = None) -> Company:
    values = payload.model_dump()
    records.check_references(session, values)
    return records.insert(session, Company, {**values, **_churn_stamp(session, None, values["lifecycle"])})


def update(session: Session, company: Company, changes: CompanyUpdate) -> Company:
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    return records.apply(session, company, {**values, **_churn_stamp(session, company, values.get("lifecycle"))})


def delete(session: Session, company: Company) -> None:
    records.remove(session, company)

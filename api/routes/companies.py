from api.crud import Resource, crud_router
from crm.db.models import Company
from crm.schemas.companies import CompanyCreate, CompanyRead, CompanyUpdate


def _churn_stamp(session, obj, changes, old):
    """Keep churned_at in step with lifecycle: the data platform's churn label reads it."""
    if changes.get("lifecycle") == "churned" and obj.churned_at is None:
        from sqlalchemy import func
        obj.churned_at = session.scalar(func.now())
    elif changes.get("lifecycle") in ("prospect", "customer"):
        obj.churned_at = None
    session.flush()


resource = Resource(
    name="companies", label="company", model=Company,
    create=CompanyCreate, update=CompanyUpdate, read=CompanyRead,
    search=("name", "domain", "industry"), filters=("lifecycle", "owner_id", "industry"),
    after_write=_churn_stamp,
)
router = crud_router(resource)

from api.crud import Resource, crud_router
from crm.db.models import Company
from crm.schemas.companies import CompanyCreate, CompanyRead, CompanyUpdate
from crm.services import companies

resource = Resource(
    name="companies", label="company", model=Company, service=companies,
    create=CompanyCreate, update=CompanyUpdate, read=CompanyRead,
    search=("name", "domain", "industry"), filters=("lifecycle", "owner_id", "industry"),
)
router = crud_router(resource)

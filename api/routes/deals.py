from api.crud import Resource, crud_router
from crm.db.models import Deal
from crm.schemas.deals import DealCreate, DealRead, DealUpdate, StageChange
from crm.services import deals


def _read(session, deal):
    read = DealRead.model_validate(deal)
    read.stage_history = [StageChange.model_validate(h) for h in deals.stage_history(session, deal.id)]
    return read


resource = Resource(
    name="deals", label="deal", model=Deal, service=deals,
    create=DealCreate, update=DealUpdate, read=DealRead,
    search=("name",), filters=("company_id", "contact_id", "pipeline_id", "stage_id", "status", "owner_id"),
    to_read=_read,
)
router = crud_router(resource)

from api.crud import Resource, crud_router
from crm.db.models import Deal
from crm.schemas.deals import DealCreate, DealRead, DealUpdate
from crm.services import deals

resource = Resource(
    name="deals", label="deal", model=Deal, service=deals,
    create=DealCreate, update=DealUpdate, read=DealRead,
    search=("name",), filters=("company_id", "contact_id", "pipeline_id", "stage_id", "status", "owner_id"),
    nested={"stage_history": "select coalesce(json_agg(json_build_object('from_stage_id', h.from_stage_id, "
                             "'to_stage_id', h.to_stage_id, 'changed_at', h.changed_at) order by h.changed_at), "
                             "'[]') from deal_stage_history h where h.deal_id = deals.id"},
)
router = crud_router(resource)

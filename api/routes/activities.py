from api.crud import Resource, crud_router
from crm.db.models import Activity
from crm.schemas.activities import ActivityCreate, ActivityRead, ActivityUpdate
from crm.services import activities

resource = Resource(
    name="activities", label="activity", model=Activity, service=activities,
    create=ActivityCreate, update=ActivityUpdate, read=ActivityRead,
    search=("subject", "body"), filters=("contact_id", "company_id", "deal_id", "campaign_id", "type"),
)
router = crud_router(resource)

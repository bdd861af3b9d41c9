from api.crud import Resource, crud_router
from api.schemas.contacts import ContactCreate, ContactRead, ContactUpdate
from crm.db.models import Contact

resource = Resource(
    name="contacts", label="contact", model=Contact,
    create=ContactCreate, update=ContactUpdate, read=ContactRead,
    search=("first_name", "last_name", "email", "title"),
    filters=("company_id", "owner_id", "lifecycle_stage", "lead_source"),
)
router = crud_router(resource)

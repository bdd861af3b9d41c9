from api.crud import Resource, crud_router
from crm.db.models import Contact
from crm.schemas.contacts import ContactCreate, ContactRead, ContactUpdate
from crm.services import contacts

resource = Resource(
    name="contacts", label="contact", model=Contact, service=contacts,
    create=ContactCreate, update=ContactUpdate, read=ContactRead,
    search=("first_name", "last_name", "email", "title"),
    filters=("company_id", "owner_id", "lifecycle_stage", "lead_source"),
)
router = crud_router(resource)

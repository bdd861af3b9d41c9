from api.crud import Resource, crud_router
from crm.db.models import Note
from crm.schemas.notes import NoteCreate, NoteRead, NoteUpdate
from crm.services import notes

resource = Resource(
    name="notes", label="note", model=Note, service=notes,
    create=NoteCreate, update=NoteUpdate, read=NoteRead,
    search=("body",), filters=("contact_id", "company_id", "deal_id", "author_id"),
)
router = crud_router(resource)

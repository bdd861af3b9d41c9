from api.crud import Resource, crud_router
from crm.db.models import Note
from crm.schemas.notes import NoteCreate, NoteRead, NoteUpdate


def _authored(session, values, principal):
    values = {k: v for k, v in values.items() if not (k == "occurred_at" and v is None)}
    return {**values, "author_id": principal.user_id}


resource = Resource(
    name="notes", label="note", model=Note,
    create=NoteCreate, update=NoteUpdate, read=NoteRead,
    search=("body",), filters=("contact_id", "company_id", "deal_id", "author_id"),
    before_create=_authored,
)
router = crud_router(resource)

"""Notes: the author is whoever writes the note (a person signed in; an API key writes anonymously)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.db.models import Note
from crm.schemas.notes import NoteCreate, NoteUpdate
from crm.services import records
from crm.tenancy import Principal


def create(session: Session, payload: NoteCreate, actor: Principal | None = None) -> Note:
    values = payload.model_dump(exclude={"occurred_at"} if payload.occurred_at is None else set())  # None: now()
    values["author_id"] = actor.user_id if actor is not None else None
    records.check_references(session, values)
    return records.insert(session, Note, values)


def update(session: Session, note: Note, changes: NoteUpdate) -> Note:
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    return records.apply(session, note, values)


def delete(session: Session, note: Note) -> None:
    records.remove(session, note)

"""Notes: the author is whoever writes the note (a person signed in; an API key writes anonymously)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from crm.db.models import Note
from crm.schemas.notes import NoteCreate, NoteUpdate
from crm.services import records
from crm.services.actor import Actor
from crm.tenancy import Principal


def _values(payload: NoteCreate, actor: Principal | None) -> dict:
    values = payload.model_dump(exclude={"occurred_at"} if payload.occurred_at is None else set())  # None: now()
    values["author_id"] = actor.user_id if actor is not None else None
    return values


def create(session: Session, payload: NoteCreate, actor: Principal | None = None) -> Note:
    values = _values(payload, actor)
    records.check_references(session, values)
    return records.insert(session, Note, values)


def create_many(session: Session, payloads: Sequence[NoteCreate], actor: Principal | None = None,
                actors: Sequence[Actor | None] | None = None) -> list[uuid.UUID]:
    """`create` for many notes by one author (`actor`): references checked in one query per kind, one INSERT;
    each note's change recorded by its actor in `actors` (None: the session's). The new notes' ids, in order."""
    rows = [_values(payload, actor) for payload in payloads]
    records.check_references_many(session, rows)
    return records.insert_many(session, Note, rows, actors)


def update(session: Session, note: Note, changes: NoteUpdate) -> Note:
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    return records.apply(session, note, values)


def delete(session: Session, note: Note) -> None:
    records.remove(session, note)

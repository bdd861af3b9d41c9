"""Contacts: plain columns; the company and owner they name must be this tenant's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.db.models import Contact
from crm.schemas.contacts import ContactCreate, ContactUpdate
from crm.services import records
from crm.tenancy import Principal


def create(session: Session, payload: ContactCreate, actor: Principal | None = None) -> Contact:
    values = payload.model_dump()
    records.check_references(session, values)
    return records.insert(session, Contact, values)


def update(session: Session, contact: Contact, changes: ContactUpdate) -> Contact:
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    return records.apply(session, contact, values)


def delete(session: Session, contact: Contact) -> None:
    records.remove(session, contact)

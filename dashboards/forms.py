"""Create/edit forms for contacts, companies, deals, notes, tasks and hand-logged activities.

The fields are described once here; validation is the domain's own schemas (crm.schemas XCreate / XUpdate)
and saving goes through the domain services (crm.services: deal staging, task done stamps, note authors,
churn stamps), so a record made in the dashboard is exactly one made through the API or a CSV import.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm.db.models import Activity, Company, Contact, Deal, Note, Pipeline, PipelineStage, Task
from crm.ids import InvalidId, parse_uuid
from crm.schemas.activities import ActivityCreate, ActivityUpdate
from crm.schemas.companies import CompanyCreate, CompanyUpdate
from crm.schemas.contacts import ContactCreate, ContactUpdate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.schemas.notes import NoteCreate, NoteUpdate
from crm.schemas.tasks import TaskCreate, TaskUpdate
from crm.schemas.updates import allows_null
from crm.services import activities, companies, contacts, deals, notes, records, tasks
from crm.services.errors import DomainError, from_integrity_error
from crm.tenancy import Principal

OPTION_LIMIT = 300


@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"          # text, email, textarea, select, date, datetime-local, number, checkbox
    required: bool = False
    options: str | tuple = ()   # a tuple of fixed choices, or the name of a loader below
    help: str = ""
    on_create: bool = True
    on_edit: bool = True


@dataclass
class FormSpec:
    kind: str                  # URL segment
    label: str
    model: type
    service: ModuleType        # crm.services.<x>: create(session, payload, actor), update(session, row, changes)
    create: type[BaseModel]
    update: type[BaseModel]
    fields: list[Field]
    link: str = ""             # where a saved record is shown, "" = back to `next` or its parent
    title_field: str = "name"


SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "other")
# What people log by hand; opens, clicks, web visits and form fills arrive from integrations (POST /events).
LOGGED_ACTIVITIES = ("call", "meeting", "email_replied", "email_sent", "support_ticket", "order")

SPECS = {
    "contacts": FormSpec("contacts", "contact", Contact, contacts, ContactCreate, ContactUpdate, [
        Field("first_name", "First name"), Field("last_name", "Last name"),
        Field("email", "Email", "email", required=True), Field("phone", "Phone"), Field("title", "Job title"),
        Field("company_id", "Company", "select", options="companies"),
        Field("lifecycle_stage", "Lifecycle stage", "select", options=STAGES, required=True),
        Field("lead_source", "Lead source", help="e.g. webinar, referral, paid_search"),
    ], link="/contacts/{id}", title_field="email"),
    "companies": FormSpec("companies", "company", Company, companies, CompanyCreate, CompanyUpdate, [
        Field("name", "Name", required=True), Field("domain", "Website domain", help="example.com"),
        Field("industry", "Industry"), Field("size", "Employees", "select", options=SIZES),
        Field("lifecycle", "Lifecycle", "select", options=("prospect", "customer", "churned"), required=True),
        Field("customer_since", "Customer since", "date"),
    ], link="/companies/{id}"),
    "deals": FormSpec("deals", "deal", Deal, deals, DealCreate, DealUpdate, [
        Field("name", "Deal name", required=True),
        Field("stage_id", "Stage", "select", options="stages", help="The pipeline follows from the stage."),
        Field("amount", "Amount", "number"), Field("currency", "Currency", help="three letters, e.g. USD"),
        Field("expected_close_date", "Expected close", "date"),
        Field("company_id", "Company", "select", options="companies"),
        Field("contact_id", "Contact", "select", options="contacts"),
        Field("lost_reason", "Lost reason", on_create=False),
    ], link="/pipeline?pipeline={pipeline_id}"),
    "notes": FormSpec("notes", "note", Note, notes, NoteCreate, NoteUpdate, [
        Field("body", "Note", "textarea", required=True),
        Field("contact_id", "Contact", "select", options="contacts"),
        Field("company_id", "Company", "select", options="companies"),
    ], title_field="body"),
    "activities": FormSpec("activities", "activity", Activity, activities, ActivityCreate, ActivityUpdate, [
        Field("type", "Type", "select", options=LOGGED_ACTIVITIES, required=True),
        Field("subject", "Subject"), Field("body", "What happened", "textarea"),
        Field("occurred_at", "When", "datetime-local", required=True, help="UTC"),
        Field("contact_id", "Contact", "select", options="contacts"),
        Field("company_id", "Company", "select", options="companies"),
        Field("amount", "Amount", "number", help="an order's value"),
        Field("currency", "Currency", help="three letters, e.g. USD"),
    ], title_field="subject"),
    "tasks": FormSpec("tasks", "task", Task, tasks, TaskCreate, TaskUpdate, [
        Field("title", "Task", required=True), Field("description", "Details", "textarea"),
        Field("due_at", "Due", "datetime-local"),
        Field("contact_id", "Contact", "select", options="contacts"),
        Field("company_id", "Company", "select", options="companies"),
        Field("is_done", "Done", "checkbox", on_create=False),
    ], title_field="title"),
}


def _options(session: Session, loader: str, keep: Any = None) -> list[tuple[str, str]]:
    if loader == "companies":
        rows = session.execute(select(Company.id, Company.name).order_by(Company.name).limit(OPTION_LIMIT)).all()
        opts = [(str(i), n) for i, n in rows]
    elif loader == "contacts":
        rows = session.execute(select(Contact.id, Contact.first_name, Contact.last_name, Contact.email)
                               .order_by(Contact.last_name, Contact.first_name).limit(OPTION_LIMIT)).all()
        opts = [(str(i), f"{f} {la}".strip() + f" <{e}>") for i, f, la, e in rows]
    else:
        rows = session.execute(select(PipelineStage.id, Pipeline.name, PipelineStage.name)
                               .join(Pipeline, Pipeline.id == PipelineStage.pipeline_id)
                               .order_by(Pipeline.is_default.desc(), Pipeline.created_at, PipelineStage.position))
        opts = [(str(i), f"{p} · {s}") for i, p, s in rows]
    if keep and str(keep) not in {k for k, _ in opts}:
        label = _label_of(session, loader, keep)
        if label:
            opts.insert(0, (str(keep), label))
    return opts


def _label_of(session: Session, loader: str, id_: Any) -> str | None:
    table = {"companies": "companies", "contacts": "contacts"}.get(loader)
    if table is None:
        return None
    col = "name" if table == "companies" else "coalesce(nullif(trim(first_name || ' ' || last_name), ''), email)"
    try:
        uid = parse_uuid(id_)
    except InvalidId:  # a malformed id in a query string: no label, the select just omits it
        return None
    return session.execute(text(f"select {col} from {table} where id = :i"), {"i": uid}).scalar()


def fields_for(spec: FormSpec, session: Session, values: dict, editing: bool) -> list[dict]:
    out = []
    for f in spec.fields:
        if not (f.on_edit if editing else f.on_create):
            continue
        options = f.options if isinstance(f.options, tuple) else ()
        choices = [(o, o) for o in options]
        if isinstance(f.options, str):
            choices = _options(session, f.options, values.get(f.name))
        out.append({"f": f, "value": values.get(f.name), "choices": choices})
    return out


_KEEP = object()


def _cleared(schema: type[BaseModel], name: str) -> Any:
    """What an emptied field of an edit form means: null for a nullable column, "" for a text column that
    must have one (a last name), else keep the stored value (an amount, a stage)."""
    field = schema.model_fields.get(name)
    if field is None or allows_null(field.annotation):
        return None
    try:
        schema.model_validate({name: ""})
    except ValidationError:
        return _KEEP
    return ""


def parse(spec: FormSpec, form: FormData, editing: bool) -> dict:
    """Form strings -> the API payload: blanks are omitted on create and cleared (None) on edit, except
    required fields, which keep "" so the schema's own message explains what is missing."""
    data: dict[str, Any] = {}
    for f in spec.fields:
        if not (f.on_edit if editing else f.on_create):
            continue
        if f.kind == "checkbox":
            data[f.name] = f.name in form
            continue
        if f.name not in form:
            continue
        raw = str(form.get(f.name, "")).strip()
        if raw == "" and not f.required:
            if editing and (blank := _cleared(spec.update, f.name)) is not _KEEP:
                data[f.name] = blank
            continue
        data[f.name] = raw
    return data


def validate(schema: type[BaseModel], data: dict) -> tuple[BaseModel | None, dict[str, str]]:
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "__all__"
            errors.setdefault(name, e["msg"].removeprefix("Value error, "))
        return None, errors


def save(s: Session, spec: FormSpec, principal: Principal, data: dict, record_id=None) -> tuple[Any, dict[str, str]]:
    """Validate with the domain schema and write through the domain service in the page's session (in a
    savepoint, so a refused write leaves the page's transaction usable); returns (record, errors)."""
    schema = spec.update if record_id else spec.create
    payload, errors = validate(schema, data)
    if payload is None:
        return None, errors
    try:
        with s.begin_nested():
            if record_id:
                obj = spec.service.update(s, records.find(s, spec.model, record_id, lock=True), payload)
            else:
                obj = spec.service.create(s, payload, principal)
        return obj, {}
    except IntegrityError as exc:
        return None, _form_error(spec, from_integrity_error(exc))
    except DomainError as exc:
        return None, _form_error(spec, exc)


def _form_error(spec: FormSpec, exc: DomainError) -> dict[str, str]:
    """The message beside the field it is about, when the form shows that field; else above the form."""
    field = exc.field
    shown = {f.name for f in spec.fields}
    return {field if field in shown else "__all__": str(exc)}

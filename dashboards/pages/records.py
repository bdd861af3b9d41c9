"""Create and edit forms for contacts, companies, deals, notes and tasks (see dashboards/forms.py)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from crm import audit
from crm.services.changes import entity_type_of
from dashboards.forms import SPECS, FormSpec, fields_for, parse, save
from dashboards.pages.common import PageSession, parse_id, safe_next
from dashboards.security import FormDep, WriterUser, not_found_page
from dashboards.templating import render

router = APIRouter()


def _display(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _schema_defaults(spec: FormSpec) -> dict:
    """A new form starts from the API schema's defaults (lifecycle 'lead', currency 'USD', ...)."""
    fields = spec.create.model_fields
    return {name: str(f.default) for name, f in fields.items()
            if isinstance(f.default, str | int | float) and not isinstance(f.default, bool) and f.default != ""}


def _landing(spec: FormSpec, obj, next_: str | None) -> str:
    if next_:
        return safe_next(next_)
    if spec.link:
        return spec.link.format(id=obj.id, pipeline_id=getattr(obj, "pipeline_id", ""))
    if getattr(obj, "contact_id", None):
        return f"/contacts/{obj.contact_id}"
    if getattr(obj, "company_id", None):
        return f"/companies/{obj.company_id}"
    return "/"


def _form_page(request: Request, s: Session, spec: FormSpec, values: dict, errors: dict, record_id=None,
               next_: str = "", status_code: int = 200):
    fields = fields_for(spec, s, values, editing=record_id is not None)
    action = f"/{spec.kind}/{record_id}/edit" if record_id else f"/{spec.kind}/new"
    context = {"spec": spec, "fields": fields, "errors": errors, "action": action,
               "editing": record_id is not None, "next": next_}
    if record_id is not None:   # a record's page (a deal's is its edit page) shows its audit trail
        context["audit_history"] = audit.history(s, entity_type_of(spec.model.__tablename__), record_id)
    return render(request, "form.html", context, status_code=status_code)


def _load(s: Session, spec: FormSpec, record_id):
    obj = s.get(spec.model, record_id)
    if obj is None:
        raise not_found_page(spec.label)
    return {f.name: _display(getattr(obj, f.name, None)) for f in spec.fields}


def _add_routes(spec: FormSpec) -> None:
    @router.get(f"/{spec.kind}/new", name=f"new_{spec.kind}")
    def new(request: Request, user: WriterUser, s: PageSession, next: str = ""):
        prefill = {**_schema_defaults(spec),
                   **{k: v for k, v in request.query_params.items() if k in {f.name for f in spec.fields}}}
        return _form_page(request, s, spec, prefill, {}, next_=safe_next(next, ""))

    @router.post(f"/{spec.kind}/new")
    def create(request: Request, user: WriterUser, form: FormDep, s: PageSession):
        data = parse(spec, form, editing=False)
        obj, errors = save(s, spec, user, data)
        next_ = safe_next(str(form.get("next", "")), "")
        if errors:
            return _form_page(request, s, spec, {k: form.get(k) for k in form}, errors, next_=next_,
                              status_code=422)
        return RedirectResponse(_landing(spec, obj, next_), status_code=303)

    @router.get(f"/{spec.kind}/{{record_id}}/edit", name=f"edit_{spec.kind}")
    def edit(request: Request, user: WriterUser, s: PageSession, record_id: str, next: str = ""):
        rid = parse_id(record_id, spec.label)
        return _form_page(request, s, spec, _load(s, spec, rid), {}, rid, safe_next(next, ""))

    @router.post(f"/{spec.kind}/{{record_id}}/edit")
    def update(request: Request, user: WriterUser, form: FormDep, s: PageSession, record_id: str):
        rid = parse_id(record_id, spec.label)
        _load(s, spec, rid)  # 404 page before validation messages for a record that is not ours
        obj, errors = save(s, spec, user, parse(spec, form, editing=True), rid)
        next_ = safe_next(str(form.get("next", "")), "")
        if errors:
            return _form_page(request, s, spec, {k: form.get(k) for k in form}, errors, rid, next_, 422)
        return RedirectResponse(_landing(spec, obj, next_), status_code=303)


for _spec in SPECS.values():
    _add_routes(_spec)


@router.post("/tasks/{record_id}/toggle")
def toggle_task(user: WriterUser, form: FormDep, s: PageSession, record_id: str):
    """Tick a task done (or not) from a contact or company page, through the API's task update."""
    spec = SPECS["tasks"]
    rid = parse_id(record_id, "task")
    current = _load(s, spec, rid)
    save(s, spec, user, {"is_done": not current["is_done"]}, rid)
    return RedirectResponse(safe_next(str(form.get("next", "")), "/"), status_code=303)

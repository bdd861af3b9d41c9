"""Workflows: the list (enable/disable, last run, runs), new from a template, a workflow's steps, run history
and "AI suggests improvements" report, a manual run, and one run step by step.

Every write goes through crm.workflows.service, as the API's do. A refused write shows the page again with the
reason; its savepoint leaves nothing behind.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from crm.db.models import WorkflowRun
from crm.services.errors import Invalid, NotFound
from crm.workflows import runs, service, templates
from dashboards.data.workflows import condition_text, steps_of, trigger_text
from dashboards.pages.common import PageSession, parse_id
from dashboards.security import FormDep, WriterUser, not_found_page
from dashboards.templating import render
from serving.workflows.report import workflow_report

router = APIRouter()
HISTORY = 25   # runs shown on a workflow's page


def _list_page(request: Request, s: Session, status_code: int = 200, **shown):
    return render(request, "workflows.html", {"rows": service.list_(s), "templates": templates.TEMPLATES,
                                              "trigger_text": trigger_text, **shown}, status_code=status_code)


def _workflow(s: Session, workflow_id: str):
    try:
        return service.get(s, parse_id(workflow_id, "workflow"))
    except NotFound:
        raise not_found_page("workflow") from None


@router.get("/workflows")
def workflows_page(request: Request, s: PageSession):
    return _list_page(request, s)


def _param(placeholder: templates.Placeholder, raw: str):
    """A form field as the placeholder's type: a number where its default is a number."""
    raw = raw.strip()
    if not raw:
        return None
    if isinstance(placeholder.default, int):
        try:
            return int(raw)
        except ValueError:
            raise Invalid(f"params.{placeholder.name}", f"{placeholder.name} must be a whole number") from None
    return raw


@router.post("/workflows/new")
def create_from_template(request: Request, user: WriterUser, form: FormDep, s: PageSession):
    name = str(form.get("template", ""))
    try:
        template = templates.get(name)
        params = {p.name: value for p in template.placeholders
                  if (value := _param(p, str(form.get(f"p_{p.name}", "")))) is not None}
        with s.begin_nested():
            workflow = service.create(s, template=name, params=params,
                                      name=str(form.get("name", "")).strip()[:200] or None,
                                      enabled=form.get("enabled") == "true")
    except templates.UnknownTemplate as exc:
        return _list_page(request, s, 422, error=str(exc))
    except Invalid as exc:
        return _list_page(request, s, 422, error=str(exc), failed_template=name)
    return RedirectResponse(f"/workflows/{workflow.id}", status_code=303)


@router.get("/workflows/runs/{run_id}")
def run_page(request: Request, run_id: str, s: PageSession):
    try:
        run = runs.get_run(s, parse_id(run_id, "workflow run"))
    except NotFound:
        raise not_found_page("workflow run") from None
    workflow = service.get(s, run["workflow_id"])
    snapshot = s.get(WorkflowRun, run["id"]).definition   # the graph the run started with
    words = {step["id"]: step["text"] for step in steps_of(snapshot)}
    return render(request, "workflow_run.html", {"run": run, "workflow": workflow, "words": words})


@router.get("/workflows/{workflow_id}")
def workflow_page(request: Request, workflow_id: str, s: PageSession):
    workflow = _workflow(s, workflow_id)
    listed = service.summary(s, workflow)
    definition = workflow.definition
    return render(request, "workflow.html", {
        "w": workflow, "listed": listed, "trigger": trigger_text(definition.get("trigger") or {}),
        "conditions": [condition_text(c) for c in definition.get("conditions") or []],
        "steps": steps_of(definition), "history": runs.list_runs(s, workflow.id, HISTORY),
        "report": workflow_report(s, workflow.id), "run_key": uuid.uuid4()})


@router.post("/workflows/{workflow_id}/enabled")
def set_enabled(request: Request, workflow_id: str, user: WriterUser, form: FormDep, s: PageSession):
    workflow = _workflow(s, workflow_id)
    service.set_enabled(s, service.get(s, workflow.id, lock=True), form.get("enabled") == "true")
    back = "/workflows" if form.get("next") == "list" else f"/workflows/{workflow.id}"
    return RedirectResponse(back, status_code=303)


@router.post("/workflows/{workflow_id}/run")
def run_now(request: Request, workflow_id: str, user: WriterUser, form: FormDep, s: PageSession):
    """A run started by hand; the form's key makes a resubmitted form start no second run."""
    workflow = _workflow(s, workflow_id)
    try:
        key = uuid.UUID(str(form.get("run_key", "")))
    except ValueError:
        key = uuid.uuid4()
    run, _ = service.start(s, workflow, f"manual:{key}", {"type": "manual", "payload": {"from": "dashboard"}})
    return RedirectResponse(f"/workflows/runs/{run.id}", status_code=303)


@router.post("/workflows/{workflow_id}/delete")
def delete(request: Request, workflow_id: str, user: WriterUser, form: FormDep, s: PageSession):
    workflow = _workflow(s, workflow_id)
    service.delete(s, service.get(s, workflow.id, lock=True))
    return RedirectResponse("/workflows", status_code=303)

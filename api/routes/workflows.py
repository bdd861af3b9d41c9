"""`/api/v1/workflows`: an agency's workflows, their templates, runs started by hand or by an inbound webhook,
run history, and the "AI suggests improvements" report; `/api/v1/workflow-runs/{id}`: one run, step by step.

Writes go through crm.workflows.service (audited); another agency's workflow or run is a 404 like a missing one.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.deps import CurrentPrincipal, SessionDep, WriterDep
from api.errors import ApiError
from api.idempotency import REPLAYED, IdempotencyDep
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from crm.db.models import Workflow, WorkflowRun
from crm.schemas.workflows import (
    ManualRun,
    RunDetail,
    RunRead,
    RunSummary,
    WorkflowCreate,
    WorkflowRead,
    WorkflowUpdate,
)
from crm.workflows import runs, service, templates
from serving.workflows.report import workflow_report

router = APIRouter(prefix="/workflows", tags=["workflows"])
runs_router = APIRouter(prefix="/workflow-runs", tags=["workflows"])


def _read(listed: service.Listed) -> dict:
    w, last = listed.workflow, listed.last_run
    return WorkflowRead.model_validate({
        "id": w.id, "created_at": w.created_at, "updated_at": w.updated_at, "name": w.name,
        "description": w.description, "enabled": w.enabled, "template": w.template, "definition": w.definition,
        "runs": listed.runs,
        "last_run": None if last is None else RunSummary(id=last.id, status=last.status, queued_at=last.queued_at,
                                                         finished_at=last.finished_at),
    }).model_dump(mode="json")


def _one(session: Session, workflow: Workflow) -> dict:
    session.refresh(workflow)   # the stored row: server defaults and trigger-set timestamps
    return _read(service.summary(session, workflow))


@router.get("/templates", summary="Workflow templates",
            description="Ready-made workflows: create one with `POST /workflows {\"template\": name, \"params\": "
                        "{...}}`; each placeholder without a default must be given in `params`.")
def list_templates(_: CurrentPrincipal) -> dict:
    return {"data": [t.to_dict() for t in templates.TEMPLATES]}


@router.post("", status_code=201, response_model=WorkflowRead, summary="Create a workflow",
             description="From a `definition` (trigger, conditions, steps) or a `template` with `params`. An invalid "
                         "definition is a 422 whose detail names the bad step. Workflows start disabled unless "
                         "`enabled` is true.")
def create(payload: WorkflowCreate, session: SessionDep, principal: WriterDep, idem: IdempotencyDep):
    def write():
        workflow = service.create(session, name=payload.name, description=payload.description,
                                  definition=payload.definition, template=payload.template, params=payload.params,
                                  enabled=payload.enabled)
        return _one(session, workflow), {"Location": f"/api/v1/workflows/{workflow.id}"}
    return idem.respond(session, principal, 201, write)


@router.get("", summary="List workflows", description="Every workflow of the agency, newest first, with its "
                                                      "number of runs and its latest run.")
def list_(session: SessionDep, _: CurrentPrincipal) -> dict:
    return {"data": [_read(listed) for listed in service.list_(session)], "next_cursor": None}


@router.get("/{id:uuid}", response_model=WorkflowRead, summary="Get a workflow")
def get(id: uuid.UUID, session: SessionDep, _: CurrentPrincipal):
    return _read(service.summary(session, service.get(session, id)))


@router.patch("/{id:uuid}", response_model=WorkflowRead, summary="Update, enable or disable a workflow",
              description="`{\"enabled\": false}` disables it: no new run starts; runs under way finish.")
def update(id: uuid.UUID, payload: WorkflowUpdate, session: SessionDep, _: WriterDep):
    workflow = service.update(session, service.get(session, id, lock=True), payload.model_dump(exclude_unset=True))
    return _one(session, workflow)


@router.delete("/{id:uuid}", status_code=204, summary="Delete a workflow")
def delete(id: uuid.UUID, session: SessionDep, _: WriterDep) -> Response:
    service.delete(session, service.get(session, id, lock=True))
    return Response(status_code=204)


def _started(run: WorkflowRun, created: bool) -> JSONResponse:
    body = RunRead.model_validate(run).model_dump(mode="json")
    headers = {"Location": f"/api/v1/workflow-runs/{run.id}"}
    if not created:
        headers[REPLAYED] = "true"
    return JSONResponse(body, status_code=202, headers=headers)


@router.post("/{id:uuid}/runs", status_code=202, response_model=RunRead, summary="Run a workflow now",
             description="Queues a run (the worker executes it). Send `Idempotency-Key`: a retry with the same key "
                         "starts no second run and answers the first (`Idempotent-Replayed: true`).")
def run_now(id: uuid.UUID, session: SessionDep, _: WriterDep, idem: IdempotencyDep,
            payload: Annotated[ManualRun | None, Body()] = None):
    workflow = service.get(session, id)
    payload = payload or ManualRun()
    run, created = service.start(session, workflow, f"manual:{idem.key or uuid.uuid4()}",
                                 {"type": "manual", "payload": payload.payload},
                                 payload.entity_type, payload.entity_id)
    return _started(run, created)


@router.post("/{id:uuid}/hooks", status_code=202, response_model=RunRead, summary="Inbound webhook: start a run",
             description="For a workflow whose trigger is `{\"type\": \"webhook\"}`, enabled. The JSON body becomes "
                         "the run's trigger payload; top-level `entity_type` (contact, company, deal) and "
                         "`entity_id` name the record it is about. Authenticate as for every API call; "
                         "`Idempotency-Key` makes a retried delivery start one run.")
def hook(id: uuid.UUID, session: SessionDep, _: WriterDep, idem: IdempotencyDep,
         body: Annotated[dict[str, Any], Body()]):
    workflow = service.get(session, id)
    if (workflow.definition.get("trigger") or {}).get("type") != "webhook":
        raise ApiError(409, f"workflow {id} is not started by an inbound webhook: its trigger must be "
                            '{"type": "webhook"}', type_="/problems/wrong-trigger")
    if not workflow.enabled:
        raise ApiError(409, f"workflow {id} is disabled: enable it (PATCH {{\"enabled\": true}}) to accept webhooks",
                       type_="/problems/workflow-disabled")
    entity_type, entity_id = body.get("entity_type"), body.get("entity_id")
    if entity_type is not None or entity_id is not None:
        try:
            checked = ManualRun(entity_type=entity_type, entity_id=entity_id)
        except ValueError as exc:
            raise ApiError(422, f"entity_type/entity_id: {exc}", type_="/problems/validation") from None
        entity_type, entity_id = checked.entity_type, checked.entity_id
    run, created = service.start(session, workflow, f"webhook:{idem.key or uuid.uuid4()}",
                                 {"type": "webhook", "payload": body}, entity_type, entity_id)
    return _started(run, created)


@router.get("/{id:uuid}/runs", summary="A workflow's runs, newest first", description="Keyset-paginated: pass "
            "`next_cursor` back as `cursor`.")
def run_history(id: uuid.UUID, session: SessionDep, _: CurrentPrincipal,
         limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
         cursor: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    service.get(session, id)
    rows = runs.list_runs(session, id, limit + 1, decode_cursor(cursor) if cursor else None)
    next_cursor = encode_cursor(rows[limit - 1].queued_at, rows[limit - 1].id) if len(rows) > limit else None
    return {"data": [RunRead.model_validate(r).model_dump(mode="json") for r in rows[:limit]],
            "next_cursor": next_cursor}


@router.get("/{id:uuid}/report", summary="AI suggests improvements: enrolled vs similar records",
            description="How the records this workflow enrolled did (lead won a deal, client not churned, deal won) "
                        "against similar records it did not enrol, matched on what was known at enrolment; rates "
                        "with 95 % intervals and a suggestion that says when the evidence is too thin.")
def report(id: uuid.UUID, session: SessionDep, _: CurrentPrincipal,
           horizon_days: Annotated[int | None, Query(ge=1, le=730)] = None) -> dict:
    service.get(session, id)
    return workflow_report(session, id, horizon_days).to_dict()


@runs_router.get("/{run_id}", response_model=RunDetail, summary="A workflow run with each step's input, output, "
                                                                 "status and timing")
def get_run(run_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal):
    return RunDetail.model_validate(runs.get_run(session, run_id)).model_dump(mode="json")

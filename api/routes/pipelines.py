import uuid

from fastapi import APIRouter, Request, Response

from api.crud import Resource, crud_router
from api.deps import SessionDep, WriterDep
from api.idempotency import IdempotencyDep
from api.preconditions import check_if_match, etag
from crm.db.models import Pipeline, PipelineStage
from crm.schemas.pipelines import (
    PipelineCreate,
    PipelineRead,
    PipelineUpdate,
    StageCreate,
    StageRead,
    StageUpdate,
)
from crm.services import pipelines


def _stage_routes(router: APIRouter) -> None:
    def find_stage(session, request, pipeline_id, stage_id):
        stage = pipelines.find_stage(session, pipeline_id, stage_id)
        check_if_match(request, session, PipelineStage, stage_id)
        return stage

    @router.post("/{id}/stages", status_code=201, response_model=StageRead, summary="Add a stage")
    def create_stage(id: uuid.UUID, payload: StageCreate, session: SessionDep, principal: WriterDep,
                     idem: IdempotencyDep):
        def write():
            stage = pipelines.add_stage(session, id, payload)
            return (StageRead.model_validate(stage).model_dump(mode="json"),
                    {"ETag": etag(session, PipelineStage, stage.id)})
        return idem.respond(session, principal, 201, write)

    @router.patch("/{id}/stages/{stage_id}", response_model=StageRead, summary="Update a stage",
                  description="Send `If-Match: <ETag>` to update only the version you read (412 otherwise).")
    def update_stage(id: uuid.UUID, stage_id: uuid.UUID, payload: StageUpdate, request: Request,
                     response: Response, session: SessionDep, _: WriterDep):
        stage = pipelines.update_stage(session, find_stage(session, request, id, stage_id), payload)
        response.headers["ETag"] = etag(session, PipelineStage, stage_id)
        return stage

    @router.delete("/{id}/stages/{stage_id}", status_code=204, summary="Delete a stage without deals",
                   description="Send `If-Match: <ETag>` to delete only the version you read (412 otherwise).")
    def delete_stage(id: uuid.UUID, stage_id: uuid.UUID, request: Request, session: SessionDep,
                     _: WriterDep) -> Response:
        pipelines.delete_stage(session, find_stage(session, request, id, stage_id))
        return Response(status_code=204)


resource = Resource(
    name="pipelines", label="pipeline", model=Pipeline, service=pipelines,
    create=PipelineCreate, update=PipelineUpdate, read=PipelineRead,
    search=("name",), filters=("is_default",),
    extra_routes=[_stage_routes],
    nested={"stages": "select coalesce(json_agg(json_build_object('id', s.id, 'name', s.name, 'position', s.position, "
                      "'win_probability', s.win_probability, 'is_won', s.is_won, 'is_lost', s.is_lost) "
                      "order by s.position), '[]') from pipeline_stages s where s.pipeline_id = pipelines.id"},
)
router = crud_router(resource)

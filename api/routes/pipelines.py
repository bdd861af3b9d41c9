import uuid

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from api.crud import Resource, crud_router, get_or_404
from api.deps import SessionDep, WriterDep
from api.errors import ApiError, not_found
from api.schemas.pipelines import (
    PipelineCreate,
    PipelineRead,
    PipelineUpdate,
    StageCreate,
    StageRead,
    StageUpdate,
)
from crm.db.models import Pipeline, PipelineStage

DEFAULT_STAGES = [("Lead in", 0.1, False, False), ("Qualified", 0.25, False, False),
                  ("Proposal", 0.5, False, False), ("Negotiation", 0.75, False, False),
                  ("Won", 1.0, True, False), ("Lost", 0.0, False, True)]


def stages_of(session, pipeline_id):
    return session.scalars(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id)
                           .order_by(PipelineStage.position)).all()


def add_stage(session, pipeline, stage: StageCreate) -> PipelineStage:
    if stage.is_won and stage.is_lost:
        raise ApiError(422, "a stage cannot be both won and lost", type_="/problems/validation")
    position = stage.position
    if position is None:
        position = session.scalar(select(func.coalesce(func.max(PipelineStage.position) + 1, 0))
                                  .where(PipelineStage.pipeline_id == pipeline.id))
    row = PipelineStage(tenant_id=pipeline.tenant_id, pipeline_id=pipeline.id, name=stage.name,
                        position=position, win_probability=stage.win_probability,
                        is_won=stage.is_won, is_lost=stage.is_lost)
    session.add(row)
    session.flush()
    return row


def _create_stages(session, pipeline, payload: PipelineCreate):
    """A pipeline is created with the stages given, or with a standard agency sales process."""
    for stage in payload.stages or [StageCreate(name=n, win_probability=p, is_won=w, is_lost=lo)
                                    for n, p, w, lo in DEFAULT_STAGES]:
        add_stage(session, pipeline, stage)


def _read(session, pipeline):
    return PipelineRead.model_validate({**{c: getattr(pipeline, c) for c in
                                           ("id", "name", "is_default", "created_at", "updated_at")},
                                        "stages": stages_of(session, pipeline.id)})


def _stage_routes(router: APIRouter) -> None:
    def find_stage(session, pipeline_id, stage_id):
        stage = session.get(PipelineStage, stage_id)
        if stage is None or stage.pipeline_id != pipeline_id:
            raise not_found("stage", stage_id)
        return stage

    @router.post("/{id}/stages", status_code=201, response_model=StageRead, summary="Add a stage")
    def create_stage(id: uuid.UUID, payload: StageCreate, session: SessionDep, _: WriterDep):
        return add_stage(session, get_or_404(session, resource, id), payload)

    @router.patch("/{id}/stages/{stage_id}", response_model=StageRead, summary="Update a stage")
    def update_stage(id: uuid.UUID, stage_id: uuid.UUID, payload: StageUpdate, session: SessionDep,
                     _: WriterDep):
        stage = find_stage(session, id, stage_id)
        for key, value in payload.model_dump(exclude_unset=True).items():
            setattr(stage, key, value)
        if stage.is_won and stage.is_lost:
            raise ApiError(422, "a stage cannot be both won and lost", type_="/problems/validation")
        session.flush()
        return stage

    @router.delete("/{id}/stages/{stage_id}", status_code=204, summary="Delete a stage without deals")
    def delete_stage(id: uuid.UUID, stage_id: uuid.UUID, session: SessionDep, _: WriterDep) -> Response:
        session.delete(find_stage(session, id, stage_id))
        session.flush()
        return Response(status_code=204)


resource = Resource(
    name="pipelines", label="pipeline", model=Pipeline,
    create=PipelineCreate, update=PipelineUpdate, read=PipelineRead,
    search=("name",), filters=("is_default",),
    nested=frozenset({"stages"}), after_create=_create_stages, to_read=_read, extra_routes=[_stage_routes],
)
router = crud_router(resource)

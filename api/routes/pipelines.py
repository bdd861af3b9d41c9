import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select, text, update

from api.crud import Resource, crud_router
from api.deps import SessionDep, WriterDep
from api.errors import ApiError, not_found
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

DEFAULT_STAGES = [("Lead in", 0.1, False, False), ("Qualified", 0.25, False, False),
                  ("Proposal", 0.5, False, False), ("Negotiation", 0.75, False, False),
                  ("Won", 1.0, True, False), ("Lost", 0.0, False, True)]


def stages_of(session, pipeline_id):
    return session.scalars(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id)
                           .order_by(PipelineStage.position)).all()


def lock_pipeline(session, pipeline_id) -> None:
    """Lock the pipeline row (and move its ETag: its stages are part of it) before its stages change, so
    concurrent stage writes take turns: the next position is computed from committed stages only."""
    touched = session.execute(update(Pipeline).where(Pipeline.id == pipeline_id)
                              .values(updated_at=func.now()).returning(Pipeline.id)).first()
    if touched is None:
        raise not_found("pipeline", pipeline_id)


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


def _one_default(session, values_or_changes: dict, pipeline_id=None) -> None:
    """A pipeline made the default takes the flag from the others, in this transaction. A per-tenant
    advisory lock makes concurrent setters take turns, so each sees the previous one's default and clears
    it (the partial unique index `pipelines_one_default_key` would otherwise answer the loser with 409)."""
    if not values_or_changes.get("is_default"):
        return
    session.execute(text("select pg_advisory_xact_lock(hashtextextended('default-pipeline:' || app_tenant_id(), 0))"))
    stmt = update(Pipeline).where(Pipeline.is_default).values(is_default=False)
    if pipeline_id is not None:
        stmt = stmt.where(Pipeline.id != pipeline_id)
    session.execute(stmt)


def _default_on_create(session, values, principal):
    _one_default(session, values)
    return values


def _default_on_update(session, pipeline, changes):
    if not pipeline.is_default:   # (already the default: nothing to take, and no lock to wait for)
        _one_default(session, changes, pipeline.id)
    return changes


def _read(session, pipeline):
    return PipelineRead.model_validate({**{c: getattr(pipeline, c) for c in
                                           ("id", "name", "is_default", "created_at", "updated_at")},
                                        "stages": stages_of(session, pipeline.id)})


def _stage_routes(router: APIRouter) -> None:
    def find_stage(session, request, pipeline_id, stage_id):
        lock_pipeline(session, pipeline_id)
        stage = session.get(PipelineStage, stage_id, with_for_update=True, populate_existing=True)
        if stage is None or stage.pipeline_id != pipeline_id:
            raise not_found("stage", stage_id)
        check_if_match(request, session, PipelineStage, stage_id)
        return stage

    @router.post("/{id}/stages", status_code=201, response_model=StageRead, summary="Add a stage")
    def create_stage(id: uuid.UUID, payload: StageCreate, session: SessionDep, principal: WriterDep,
                     idem: IdempotencyDep):
        def write():
            lock_pipeline(session, id)
            stage = add_stage(session, session.get(Pipeline, id), payload)
            return (StageRead.model_validate(stage).model_dump(mode="json"),
                    {"ETag": etag(session, PipelineStage, stage.id)})
        return idem.respond(session, principal, 201, write)

    @router.patch("/{id}/stages/{stage_id}", response_model=StageRead, summary="Update a stage",
                  description="Send `If-Match: <ETag>` to update only the version you read (412 otherwise).")
    def update_stage(id: uuid.UUID, stage_id: uuid.UUID, payload: StageUpdate, request: Request,
                     response: Response, session: SessionDep, _: WriterDep):
        stage = find_stage(session, request, id, stage_id)
        for key, value in payload.model_dump(exclude_unset=True).items():
            setattr(stage, key, value)
        if stage.is_won and stage.is_lost:
            raise ApiError(422, "a stage cannot be both won and lost", type_="/problems/validation")
        session.flush()
        response.headers["ETag"] = etag(session, PipelineStage, stage_id)
        return stage

    @router.delete("/{id}/stages/{stage_id}", status_code=204, summary="Delete a stage without deals",
                   description="Send `If-Match: <ETag>` to delete only the version you read (412 otherwise).")
    def delete_stage(id: uuid.UUID, stage_id: uuid.UUID, request: Request, session: SessionDep,
                     _: WriterDep) -> Response:
        session.delete(find_stage(session, request, id, stage_id))
        session.flush()
        return Response(status_code=204)


resource = Resource(
    name="pipelines", label="pipeline", model=Pipeline,
    create=PipelineCreate, update=PipelineUpdate, read=PipelineRead,
    search=("name",), filters=("is_default",),
    nested=frozenset({"stages"}), after_create=_create_stages, to_read=_read, extra_routes=[_stage_routes],
    before_create=_default_on_create, before_update=_default_on_update,
)
router = crud_router(resource)

from sqlalchemy import func, select

from api.crud import Resource, crud_router
from api.errors import ApiError
from api.routes.pipelines import stages_of
from crm.db.models import Deal, DealStageHistory, Pipeline, PipelineStage
from crm.schemas.deals import DealCreate, DealRead, DealUpdate, StageChange


def _problem(detail: str) -> ApiError:
    return ApiError(422, detail, type_="/problems/validation")


def _status_for(session, stage: PipelineStage) -> dict:
    """A deal's status follows its stage: a won or lost stage closes it, an open stage reopens it."""
    if stage.is_won or stage.is_lost:
        return {"status": "won" if stage.is_won else "lost", "closed_at": session.scalar(func.now())}
    return {"status": "open", "closed_at": None, "lost_reason": None}


def _place(session, values, principal):
    pipeline_id, stage_id = values.get("pipeline_id"), values.get("stage_id")
    if stage_id is not None:
        stage = session.get(PipelineStage, stage_id)
        if stage is None:
            raise _problem(f"stage_id {stage_id} does not exist")
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            raise _problem(f"stage_id {stage_id} is not a stage of pipeline {pipeline_id}")
        pipeline_id = stage.pipeline_id
    else:
        if pipeline_id is None:
            pipeline_id = session.scalar(select(Pipeline.id).order_by(Pipeline.is_default.desc(),
                                                                      Pipeline.created_at).limit(1))
            if pipeline_id is None:
                raise _problem("this tenant has no pipeline yet: create one with POST /api/v1/pipelines")
        stages = stages_of(session, pipeline_id)
        if not stages:
            raise _problem(f"pipeline_id {pipeline_id} does not exist or has no stages")
        stage = stages[0]
    return {**values, "pipeline_id": pipeline_id, "stage_id": stage.id, **_status_for(session, stage)}


def _restage(session, deal, changes):
    if "stage_id" in changes and changes["stage_id"] != deal.stage_id:
        stage = session.get(PipelineStage, changes["stage_id"])
        if stage is None or stage.pipeline_id != deal.pipeline_id:
            raise _problem(f"stage_id {changes['stage_id']} is not a stage of this deal's pipeline")
        status = _status_for(session, stage)
        if "lost_reason" in changes and stage.is_lost:
            status.pop("lost_reason", None)
        changes = {**status, **changes}
    return changes


def _record_stage(session, deal, changes, old):
    if old is None or ("stage_id" in changes and old.get("stage_id") != deal.stage_id):
        # The deal row is locked (crud's FOR UPDATE) until commit, so moves take turns; clock_timestamp(),
        # not now() (the transaction's start), keeps changed_at in the order the moves really happened.
        session.add(DealStageHistory(tenant_id=deal.tenant_id, deal_id=deal.id,
                                     from_stage_id=None if old is None else old["stage_id"],
                                     to_stage_id=deal.stage_id, changed_at=func.clock_timestamp()))
        session.flush()


def _read(session, deal):
    history = session.scalars(select(DealStageHistory).where(DealStageHistory.deal_id == deal.id)
                              .order_by(DealStageHistory.changed_at)).all()
    read = DealRead.model_validate(deal)
    read.stage_history = [StageChange.model_validate(h) for h in history]
    return read


resource = Resource(
    name="deals", label="deal", model=Deal,
    create=DealCreate, update=DealUpdate, read=DealRead,
    search=("name",), filters=("company_id", "contact_id", "pipeline_id", "stage_id", "status", "owner_id"),
    before_create=_place, before_update=_restage, after_write=_record_stage, to_read=_read,
)
router = crud_router(resource)

"""Deals: a deal sits in a stage of its pipeline, its status follows that stage (won or lost closes it, an
open stage reopens it), and every move is kept in its stage history."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db.models import Deal, DealStageHistory, PipelineStage
from crm.schemas.deals import DealCreate, DealUpdate
from crm.services import pipelines, records
from crm.services.errors import Invalid
from crm.tenancy import Principal


def _status_for(session: Session, stage: PipelineStage) -> dict[str, Any]:
    if stage.is_won or stage.is_lost:
        return {"status": "won" if stage.is_won else "lost", "closed_at": records.now(session)}
    return {"status": "open", "closed_at": None, "lost_reason": None}


def _place(session: Session, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None) -> PipelineStage:
    """The stage named (it must be of the pipeline named), else the first stage of the pipeline named, else
    of the default pipeline."""
    if stage_id is not None:
        stage = session.get(PipelineStage, stage_id)
        if stage is None:
            raise Invalid("stage_id", f"stage_id {stage_id} does not exist")
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            raise Invalid("stage_id", f"stage_id {stage_id} is not a stage of pipeline {pipeline_id}")
        return stage
    if pipeline_id is None:
        pipeline_id = pipelines.default_id(session)
        if pipeline_id is None:
            raise Invalid("pipeline_id", "this tenant has no pipeline yet: create a pipeline first")
    stages = pipelines.stages_of(session, pipeline_id)
    if not stages:
        raise Invalid("pipeline_id", f"pipeline_id {pipeline_id} does not exist or has no stages")
    return stages[0]


def _record_move(session: Session, deal: Deal, from_stage_id: uuid.UUID | None) -> None:
    # The deal row is locked until commit, so moves take turns; clock_timestamp(), not now() (the
    # transaction's start), keeps changed_at in the order the moves really happened.
    session.add(DealStageHistory(tenant_id=deal.tenant_id, deal_id=deal.id, from_stage_id=from_stage_id,
                                 to_stage_id=deal.stage_id, changed_at=func.clock_timestamp()))
    session.flush()


def create(session: Session, payload: DealCreate, actor: Principal | None = None) -> Deal:
    values = payload.model_dump()
    records.check_references(session, values)
    stage = _place(session, values["pipeline_id"], values["stage_id"])
    values.update(pipeline_id=stage.pipeline_id, stage_id=stage.id, **_status_for(session, stage))
    deal = records.insert(session, Deal, values)
    _record_move(session, deal, None)
    return deal


def update(session: Session, deal: Deal, changes: DealUpdate, *, pipeline_id: uuid.UUID | None = None) -> Deal:
    """Change a deal; a new stage must be of its pipeline. `pipeline_id` moves the deal to another pipeline
    (into the stage given, else that pipeline's first stage): only the CSV import names pipelines."""
    values = changes.model_dump(exclude_unset=True)
    records.check_references(session, values)
    deal = records.find(session, Deal, deal.id, lock=True)   # the stage we move from is the committed one
    stage = None
    if pipeline_id is not None and pipeline_id != deal.pipeline_id:
        stage = _place(session, pipeline_id, values.get("stage_id"))
        values.update(pipeline_id=pipeline_id, stage_id=stage.id)
    elif "stage_id" in values and values["stage_id"] != deal.stage_id:
        stage = session.get(PipelineStage, values["stage_id"])
        if stage is None or stage.pipeline_id != deal.pipeline_id:
            raise Invalid("stage_id", f"stage_id {values['stage_id']} is not a stage of this deal's pipeline")
    from_stage_id = deal.stage_id
    if stage is not None and stage.id != from_stage_id:
        values = {**_status_for(session, stage), **values}   # an explicit lost_reason still wins
    records.apply(session, deal, values)
    if deal.stage_id != from_stage_id:
        _record_move(session, deal, from_stage_id)
    return deal


def delete(session: Session, deal: Deal) -> None:
    records.remove(session, deal)


def stage_history(session: Session, deal_id: uuid.UUID) -> list[DealStageHistory]:
    return list(session.scalars(select(DealStageHistory).where(DealStageHistory.deal_id == deal_id)
                                .order_by(DealStageHistory.changed_at)))

"""Deals: a deal sits in a stage of its pipeline, its status follows that stage (won or lost closes it, an
open stage reopens it), and every move is kept in its stage history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db.models import Deal, DealStageHistory, PipelineStage
from crm.schemas.deals import DealCreate, DealUpdate
from crm.services import pipelines, records
from crm.services.actor import Actor
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


def _record_move(session: Session, deal: Deal, from_stage_id: uuid.UUID | None, *, flush: bool = True) -> None:
    # The deal row is locked until commit, so moves take turns; clock_timestamp(), not now() (the
    # transaction's start), keeps changed_at in the order the moves really happened.
    session.add(DealStageHistory(tenant_id=deal.tenant_id, deal_id=deal.id, from_stage_id=from_stage_id,
                                 to_stage_id=deal.stage_id, changed_at=func.clock_timestamp()))
    if flush:
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
    from_stage_id = deal.stage_id
    records.apply(session, deal, _resolved(session, deal, values, pipeline_id))
    if deal.stage_id != from_stage_id:
        _record_move(session, deal, from_stage_id)
    return deal


def update_many(session: Session, items: Sequence[tuple[uuid.UUID, DealUpdate]],
                actors: Sequence[Actor | None] | None = None) -> list[Deal]:
    """`update` for many deals (a deal may come more than once: its changes apply in order): the same rules,
    the deals locked in one statement, references checked in one query per kind, one flush for the rows and one
    for the stage moves; each change recorded by its actor in `actors` (None: the session's)."""
    values = [changes.model_dump(exclude_unset=True) for _, changes in items]
    records.check_references_many(session, values)
    locked = records.find_many(session, Deal, [deal_id for deal_id, _ in items], lock=True)
    moves: list[tuple[Deal, uuid.UUID | None]] = []
    done = []
    for (deal_id, _), vals, actor in zip(items, values, actors or [None] * len(items), strict=True):
        deal = locked[deal_id]
        from_stage_id = deal.stage_id
        records.apply(session, deal, _resolved(session, deal, vals, None), flush=False, actor=actor)
        if deal.stage_id != from_stage_id:
            moves.append((deal, from_stage_id))
        done.append(deal)
    session.flush()
    for deal, from_stage_id in moves:
        _record_move(session, deal, from_stage_id, flush=False)
    if moves:
        session.flush()
    return done


def _resolved(session: Session, deal: Deal, values: dict[str, Any], pipeline_id: uuid.UUID | None) -> dict[str, Any]:
    """The values to set on a (locked) deal for these changes: a new stage checked, its status with it."""
    stage = None
    if pipeline_id is not None and pipeline_id != deal.pipeline_id:
        stage = _place(session, pipeline_id, values.get("stage_id"))
        values = {**values, "pipeline_id": pipeline_id, "stage_id": stage.id}
    elif "stage_id" in values and values["stage_id"] != deal.stage_id:
        stage = session.get(PipelineStage, values["stage_id"])
        if stage is None or stage.pipeline_id != deal.pipeline_id:
            raise Invalid("stage_id", f"stage_id {values['stage_id']} is not a stage of this deal's pipeline")
    if stage is not None and stage.id != deal.stage_id:
        values = {**_status_for(session, stage), **values}   # an explicit lost_reason still wins
    return values


def delete(session: Session, deal: Deal) -> None:
    records.remove(session, deal)


def stage_history(session: Session, deal_id: uuid.UUID) -> list[DealStageHistory]:
    return list(session.scalars(select(DealStageHistory).where(DealStageHistory.deal_id == deal_id)
                                .order_by(DealStageHistory.changed_at)))

"""Pipelines and their stages: one default pipeline per tenant, stage positions under the pipeline's lock,
no stage both won and lost."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from crm.db.models import Pipeline, PipelineStage
from crm.schemas.pipelines import PipelineCreate, PipelineUpdate, StageCreate, StageUpdate
from crm.services import records
from crm.services.changes import record
from crm.services.errors import Invalid, NotFound
from crm.tenancy import Principal

# A standard agency sales process: (name, win probability, is_won, is_lost)
DEFAULT_STAGES = [("Lead in", 0.1, False, False), ("Qualified", 0.25, False, False),
                  ("Proposal", 0.5, False, False), ("Negotiation", 0.75, False, False),
                  ("Won", 1.0, True, False), ("Lost", 0.0, False, True)]


def default_id(session: Session) -> uuid.UUID | None:
    """The pipeline a deal lands in when none is named: the default, else the oldest."""
    return session.scalar(select(Pipeline.id).order_by(Pipeline.is_default.desc(), Pipeline.created_at).limit(1))


def stages_of(session: Session, pipeline_id: uuid.UUID) -> list[PipelineStage]:
    return list(session.scalars(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id)
                                .order_by(PipelineStage.position)))


def lock(session: Session, pipeline_id: uuid.UUID) -> None:
    """Lock the pipeline row (and move its ETag: its stages are part of it) before its stages change, so
    concurrent stage writes take turns: the next position is computed from committed stages only."""
    touched = session.execute(sql_update(Pipeline).where(Pipeline.id == pipeline_id)
                              .values(updated_at=func.now()).returning(Pipeline.id)).first()
    if touched is None:
        raise NotFound("pipeline", pipeline_id)


def _take_default(session: Session, values: dict[str, Any], pipeline_id: uuid.UUID | None = None) -> None:
    """A pipeline made the default takes the flag from the others, in this transaction. A per-tenant
    advisory lock makes concurrent setters take turns, so each sees the previous one's default and clears
    it (the partial unique index `pipelines_one_default_key` would otherwise answer the loser with 409).
    The pipeline that loses the flag is changed too, so its change is recorded (audit log, events)."""
    if not values.get("is_default"):
        return
    session.execute(text("select pg_advisory_xact_lock(hashtextextended('default-pipeline:' || app_tenant_id(), 0))"))
    stmt = sql_update(Pipeline).where(Pipeline.is_default).values(is_default=False)
    if pipeline_id is not None:
        stmt = stmt.where(Pipeline.id != pipeline_id)
    for (cleared,) in session.execute(stmt.returning(Pipeline.id)):
        record(session, "pipelines", cleared, "update", {"is_default": [True, False]})


def create(session: Session, payload: PipelineCreate, actor: Principal | None = None) -> Pipeline:
    """A pipeline with the stages given, or with the standard agency sales process."""
    values = payload.model_dump(exclude={"stages"})
    _take_default(session, values)
    pipeline = records.insert(session, Pipeline, values)
    for stage in payload.stages or [StageCreate(name=n, win_probability=p, is_won=w, is_lost=lo)
                                    for n, p, w, lo in DEFAULT_STAGES]:
        _insert_stage(session, pipeline.id, stage)
    return pipeline


def update(session: Session, pipeline: Pipeline, changes: PipelineUpdate) -> Pipeline:
    values = changes.model_dump(exclude_unset=True)
    if not pipeline.is_default:   # (already the default: nothing to take, and no lock to wait for)
        _take_default(session, values, pipeline.id)
    return records.apply(session, pipeline, values)


def delete(session: Session, pipeline: Pipeline) -> None:
    records.remove(session, pipeline)


def _check_flags(is_won: bool, is_lost: bool) -> None:
    if is_won and is_lost:
        raise Invalid("is_lost", "a stage cannot be both won and lost")


def _insert_stage(session: Session, pipeline_id: uuid.UUID, stage: StageCreate) -> PipelineStage:
    _check_flags(stage.is_won, stage.is_lost)
    values = stage.model_dump()
    if values["position"] is None:   # next after the last; the caller holds the pipeline's lock
        values["position"] = session.scalar(select(func.coalesce(func.max(PipelineStage.position) + 1, 0))
                                            .where(PipelineStage.pipeline_id == pipeline_id))
    return records.insert(session, PipelineStage, {"pipeline_id": pipeline_id, **values})


def add_stage(session: Session, pipeline_id: uuid.UUID, payload: StageCreate) -> PipelineStage:
    lock(session, pipeline_id)
    return _insert_stage(session, pipeline_id, payload)


def find_stage(session: Session, pipeline_id: uuid.UUID, stage_id: uuid.UUID) -> PipelineStage:
    """A stage of this pipeline, locked with its pipeline for a change; NotFound for any other stage."""
    lock(session, pipeline_id)
    stage = session.get(PipelineStage, stage_id, with_for_update=True, populate_existing=True)
    if stage is None or stage.pipeline_id != pipeline_id:
        raise NotFound("stage", stage_id)
    return stage


def update_stage(session: Session, stage: PipelineStage, changes: StageUpdate) -> PipelineStage:
    values = changes.model_dump(exclude_unset=True)
    _check_flags(values.get("is_won", stage.is_won), values.get("is_lost", stage.is_lost))
    return records.apply(session, stage, values)


def delete_stage(session: Session, stage: PipelineStage) -> None:
    records.remove(session, stage)

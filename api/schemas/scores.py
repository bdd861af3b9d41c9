"""Scores: the body CONTRACT.md promises, plus the batch and what-if envelopes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from crm.schemas.base import RequestModel

MAX_BATCH = 1000


class Factor(BaseModel):
    feature: str
    value: float | str | bool | None
    impact: float = Field(description="Score points this feature moved the score (+ up, - down)")
    text: str = Field(description='A sentence for people, e.g. "Replied to 3 emails in the last 30 days: +12"')


class ModelRef(BaseModel):
    name: str
    version: str
    kind: Literal["learned", "fallback"] = Field(
        default="learned", description="learned: the pooled LightGBM champion; fallback: a transparent model fitted "
                                       "on this agency's own data, chosen for it where the champion cannot be shown "
                                       "to rank its data better (see method)")
    method: Literal["lightgbm", "bg_nbd", "survival", "engagement"] = Field(
        default="lightgbm", description="lightgbm (learned); bg_nbd: buy-till-you-die P(no order in 90 days) for "
                                        "purchase churn; survival: P(the contract ends within 90 days | tenure) "
                                        "from a life table of the agency's own customers, for contractual churn; "
                                        "engagement: a calibrated logistic model of lead engagement")

    @classmethod
    def of(cls, name: str, version: str, model_kind: str) -> ModelRef:
        """From a stored score's model_kind ('learned' | 'bg_nbd' | 'survival' | 'engagement')."""
        learned = model_kind == "learned"
        return cls(name=name, version=version, kind="learned" if learned else "fallback",
                   method="lightgbm" if learned else model_kind)


class ScoreRead(BaseModel):
    score: int = Field(ge=0, le=100, description="Calibrated probability x 100")
    probability: float = Field(ge=0, le=1)
    tier: str = Field(description="A (best) to D, by thresholds recorded with the model")
    factors: list[Factor]
    model: ModelRef
    scored_at: datetime
    as_of: datetime = Field(description="The instant the features describe: scores are computed from features "
                                        "as of the moment of scoring")


class LeadScoreItem(ScoreRead):
    contact_id: uuid.UUID


class LeadBatchRequest(RequestModel):
    contact_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_BATCH)]


class LeadBatchRead(BaseModel):
    data: list[LeadScoreItem]
    missing: list[uuid.UUID] = Field(description="Requested ids without a score (unknown, not a lead, or unscored)")


class AccountScoreItem(ScoreRead):
    company_id: uuid.UUID


class AccountBatchRequest(RequestModel):
    company_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_BATCH)]


class AccountBatchRead(BaseModel):
    data: list[AccountScoreItem]
    missing: list[uuid.UUID] = Field(description="Requested ids without a score (unknown, not a customer account, "
                                                 "or unscored)")


class WhatIfRequest(RequestModel):
    features: Annotated[dict[str, float | bool | str | None], Field(min_length=1)] = Field(
        description="Feature values to change, by feature name; the others keep their published values")


class WhatIfRead(ScoreRead):
    baseline: ScoreRead = Field(description="The score now, from the published features, same model")
    delta: int = Field(description="score - baseline.score")
    delta_probability: float
    changed: dict[str, float | bool | str | None]

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from crm.schemas.base import Name, ReadModel, RequestModel
from crm.schemas.updates import UpdateModel


class StageCreate(RequestModel):
    name: Name
    position: int | None = Field(default=None, ge=0, le=1000)
    win_probability: float = Field(default=0.0, ge=0, le=1)
    is_won: bool = False
    is_lost: bool = False


class StageUpdate(UpdateModel):
    name: Name = None
    position: int = Field(default=None, ge=0, le=1000)
    win_probability: float = Field(default=None, ge=0, le=1)
    is_won: bool = None
    is_lost: bool = None


class StageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    position: int
    win_probability: float
    is_won: bool
    is_lost: bool


class PipelineCreate(RequestModel):
    name: Name
    is_default: bool = False
    stages: list[StageCreate] = Field(default_factory=list, max_length=50)


class PipelineUpdate(UpdateModel):
    name: Name = None
    is_default: bool = None


class PipelineRead(ReadModel):
    name: str
    is_default: bool
    stages: list[StageRead] = []

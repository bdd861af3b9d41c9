"""Workflows over HTTP: create from a definition or a template, change, read; runs and their steps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm.schemas.base import LongText, Name, Properties, ReadModel, RequestModel
from crm.schemas.updates import UpdateModel


class WorkflowCreate(RequestModel):
    """Either `definition` (trigger, conditions, steps) or `template` (a name from GET /workflows/templates)
    with `params` filling its placeholders; `name` and `description` default to the template's."""
    name: Name | None = None
    description: LongText | None = None
    enabled: bool = False
    definition: Properties | None = None
    template: str | None = Field(default=None, max_length=100)
    params: Properties | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.definition is None) == (self.template is None):
            raise ValueError("send either a definition or a template name, not both and not neither")
        if self.template is None and not self.name:
            raise ValueError("name is required with a definition")
        if self.params is not None and self.template is None:
            raise ValueError("params fill a template's placeholders: send them with a template")
        return self


class WorkflowUpdate(UpdateModel):
    name: Name = None
    description: LongText = None
    enabled: bool = None
    definition: Properties = None


class RunSummary(BaseModel):
    id: uuid.UUID
    status: str
    queued_at: datetime
    finished_at: datetime | None


class WorkflowRead(ReadModel):
    name: str
    description: str
    enabled: bool
    template: str | None
    definition: dict[str, Any]
    runs: int = 0
    last_run: RunSummary | None = None


class StepRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    step_id: str
    status: str
    input: dict[str, Any] | list | None
    output: dict[str, Any] | list | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None = None


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    workflow_id: uuid.UUID
    trigger_key: str
    trigger: dict[str, Any] | None
    entity_type: str | None
    entity_id: uuid.UUID | None
    status: str
    current_step: str | None
    error: str | None
    resume_at: datetime | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunDetail(RunRead):
    steps: list[StepRunRead] = []


class ManualRun(RequestModel):
    """The trigger payload of a manual run; `entity_type` + `entity_id` name the record it is about."""
    entity_type: str | None = Field(default=None, pattern=r"^(contact|company|deal)$")
    entity_id: uuid.UUID | None = None
    payload: Properties = Field(default_factory=dict)

    @model_validator(mode="after")
    def _both_or_neither(self):
        if (self.entity_type is None) != (self.entity_id is None):
            raise ValueError("send entity_type and entity_id together (or neither)")
        return self

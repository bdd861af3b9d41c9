"""Insights and email drafts: questions in, grounded text and its citations out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from crm.schemas.base import RequestModel

Question = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class InsightCreate(RequestModel):
    question: Question = Field(description="What to ask, in plain language")
    company_id: uuid.UUID | None = Field(default=None, description="Ask about this company (and its contacts)")
    contact_id: uuid.UUID | None = Field(default=None, description="Ask about this contact")


class CitationRead(BaseModel):
    source_type: Literal["note", "activity", "score", "deal", "sentiment"]
    source_id: uuid.UUID
    snippet: str
    occurred_at: datetime | None


class InsightItemRead(BaseModel):
    """A record the answer names: what it is, where its page is, and which citations support it."""

    entity_type: Literal["company", "contact", "deal", "campaign"]
    entity_id: uuid.UUID
    name: str
    url: str = Field(description="The record's dashboard page")
    detail: str = Field(description="e.g. its score tier, a deal's amount; empty when none applies")
    mentions: int = Field(description="How many sentences of its texts match (all of them, cited or not)")
    citations: list[int] = Field(description="1-based positions in `citations` that support this record")


class InsightGroupRead(BaseModel):
    key: str
    label: str
    count: int = Field(description="Records in the group (all of them, even when `items` is a page)")
    items: list[InsightItemRead]


class InsightPlanRead(BaseModel):
    shape: Literal["single", "aggregate", "why", "records", "nothing"]
    planner: str = Field(description="offline | model | offline fallback (<error>)")


class InsightRead(BaseModel):
    answer: str
    citations: list[CitationRead]
    groups: list[InsightGroupRead] = Field(default_factory=list,
                                           description="Matching records grouped (by tier, theme or reason), counted")
    items: list[InsightItemRead] = Field(default_factory=list, description="Every record named, once")
    total: int = Field(0, description="How many distinct records match in all")
    plan: InsightPlanRead | None = None


class EmailDraftRead(BaseModel):
    subject: str
    body: str
    citations: list[CitationRead]

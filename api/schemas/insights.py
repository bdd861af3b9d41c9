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


class InsightRead(BaseModel):
    answer: str
    citations: list[CitationRead]


class EmailDraftRead(BaseModel):
    subject: str
    body: str
    citations: list[CitationRead]

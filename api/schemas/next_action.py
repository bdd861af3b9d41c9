"""The next best action for a company or a contact: one action, its urgency and due date, cited reasons."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class ReasonRead(BaseModel):
    text: str = Field(description="One sentence: what the record says and why it matters")
    source_type: Literal["score", "task", "note", "activity", "deal", "contact", "company"] = Field(
        description="The cited record's kind: 'score' is the entity's current score (source_id is the scored "
                    "contact or company); 'contact' / 'company' cite the record itself")
    source_id: uuid.UUID
    occurred_at: datetime | None = Field(description="When the cited record happened (scored, due, written)")
    snippet: str | None = Field(description="The record's own words, verbatim, when it has some")


class NextActionRead(BaseModel):
    entity_type: Literal["company", "contact"]
    entity_id: uuid.UUID
    entity_name: str
    action: str = Field(description="A short imperative, e.g. 'Call Grace Lee this week about reporting'")
    kind: Literal["rescue_account", "close_deal", "follow_up", "nurture", "wait"]
    priority: Literal["high", "medium", "low"]
    due: date = Field(description="Do it by this day (for 'wait': look again on this day)")
    reasons: list[ReasonRead] = Field(description="Why, most decisive first; each cites a record of the tenant")
    rule: str = Field(description="The rule that chose the action, in words")
    contact_id: uuid.UUID | None = Field(description="The person the action names, when it names one")
    contact_name: str | None
    generated_at: datetime

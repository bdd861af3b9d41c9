"""What a next-best-action recommendation is: one action, how urgent, when, and the cited reasons for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Literal

EntityType = Literal["company", "contact"]
Kind = Literal["rescue_account", "close_deal", "follow_up", "nurture", "wait"]
Priority = Literal["high", "medium", "low"]
# What a reason cites: the record it was read from. 'score' is the entity's current score row (its id is the
# scored contact's or company's); 'contact' / 'company' cite the record itself ("nothing on record since ...").
SourceType = Literal["score", "task", "note", "activity", "deal", "contact", "company"]


@dataclass(frozen=True)
class Reason:
    text: str                      # one sentence a person reads: "Churn risk 82/100 (tier A)."
    source_type: SourceType
    source_id: str                 # the cited record's id
    occurred_at: datetime | None   # when the cited record happened (scored, due, written, updated)
    snippet: str | None = None     # the record's own words, verbatim, when it has some (a note's sentence)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Recommendation:
    entity_type: EntityType
    entity_id: str
    entity_name: str
    action: str                    # a short imperative: "Call Grace Lee this week about reporting"
    kind: Kind
    priority: Priority
    due: date                      # when to do it by (for 'wait': when to look again)
    reasons: list[Reason] = field(default_factory=list)
    rule: str = ""                 # which rule chose the action, in words (the decision is transparent)
    contact_id: str | None = None  # the person to reach, when the action names one
    contact_name: str | None = None
    generated_at: datetime | None = None

    def to_dict(self) -> dict:
        return asdict(self)

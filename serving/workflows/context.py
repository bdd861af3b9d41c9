"""What a step knows about its run, and the run's record as it is now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.db.models import Activity, Campaign, Company, Contact, Deal, Note, Pipeline, Task
from crm.services.actor import Actor

# entity label -> table, and model, for the records a run can be about
TABLES = {"contact": "contacts", "company": "companies", "deal": "deals", "activity": "activities",
          "note": "notes", "task": "tasks", "campaign": "campaigns", "pipeline": "pipelines"}
MODELS = {"contact": Contact, "company": Company, "deal": Deal, "activity": Activity, "note": Note, "task": Task,
          "campaign": Campaign, "pipeline": Pipeline}


class StepFailed(Exception):
    """A step that cannot do its work; the message is for the person reading the run history."""


@dataclass(frozen=True)
class RunContext:
    tenant_id: str
    run_id: str
    workflow_id: str
    workflow_name: str
    entity_type: str | None
    entity_id: str | None
    trigger: dict[str, Any]

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunContext:
        return cls(**{name: state.get(name) for name in cls.__dataclass_fields__})

    @property
    def actor(self) -> Actor:
        return Actor("workflow_run", uuid.UUID(self.run_id), f"workflow {self.workflow_name}")

    def record(self, session: Session) -> dict[str, Any] | None:
        """The run's record as JSON (uuids and timestamps as text, numbers as numbers), or None (no record,
        or deleted since the run started)."""
        table = TABLES.get(self.entity_type or "")
        if table is None or self.entity_id is None:
            return None
        return session.execute(text(f"select to_jsonb(t) from {table} t where id = :id"),
                               {"id": self.entity_id}).scalar()

    def require_record(self, session: Session) -> dict[str, Any]:
        record = self.record(session)
        if record is None:
            what = f"{self.entity_type} {self.entity_id}" if self.entity_id else "no record"
            raise StepFailed(f"this run is about {what}, which does not exist (any more)")
        return record

    def links(self, session: Session, record: dict[str, Any] | None = None) -> dict[str, str | None]:
        """contact_id / company_id / deal_id for a task or note about the run's record (`record`: as just read)."""
        record = (record if record is not None else self.record(session)) or {}
        links = {key: record.get(key) for key in ("contact_id", "company_id", "deal_id")}
        if self.entity_type in ("contact", "company", "deal"):
            links[f"{self.entity_type}_id"] = self.entity_id
        return links


def records_of(session: Session, contexts: list[RunContext]) -> list[dict[str, Any] | None]:
    """`RunContext.record` of many runs (a set-based step), one query per kind of record."""
    wanted: dict[str, set[str]] = {}
    for ctx in contexts:
        if ctx.entity_type in TABLES and ctx.entity_id is not None:
            wanted.setdefault(TABLES[ctx.entity_type], set()).add(ctx.entity_id)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for table, ids in wanted.items():
        rows = session.execute(text(f"select cast(id as text), to_jsonb(t) from {table} t "
                                    "where id = any(cast(:ids as uuid[]))"), {"ids": sorted(ids)})
        found.update(((table, id_), record) for id_, record in rows)
    return [found.get((TABLES.get(ctx.entity_type or "", ""), ctx.entity_id or "")) for ctx in contexts]

"""Finding existing rows by natural key inside one tenant's transaction (RLS scopes every query)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db.models import Company, Contact, Pipeline, PipelineStage

_CHUNK = 1000


def chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(set(values))
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def by_lower(session: Session, model: type, column: str, keys: Iterable[str]) -> dict[str, list[Any]]:
    """Rows of `model` whose lower(column) is among `keys`, grouped by that lowered value."""
    col = getattr(model, column)
    found: dict[str, list[Any]] = defaultdict(list)
    for chunk in chunks(k.lower() for k in keys):
        for obj in session.scalars(select(model).where(func.lower(col).in_(chunk)).order_by(model.created_at)):
            found[getattr(obj, column).lower()].append(obj)
    return found


@dataclass
class Refs:
    """Companies and contacts a file refers to, loaded once per import."""

    session: Session
    domains: dict[str, list[Company]] = field(default_factory=dict)
    names: dict[str, list[Company]] = field(default_factory=dict)
    emails: dict[str, list[Contact]] = field(default_factory=dict)

    def load(self, rows: list[dict]) -> None:
        self.domains = by_lower(self.session, Company, "domain", [r["company_domain"] for r in rows
                                                                  if r.get("company_domain")])
        self.names = by_lower(self.session, Company, "name", [r["company_name"] for r in rows
                                                              if r.get("company_name") and not r.get("company_domain")])
        self.emails = by_lower(self.session, Contact, "email", [r["contact_email"] for r in rows
                                                                if r.get("contact_email")])

    def company(self, row: dict) -> tuple[Company | None, str | None, str | None]:
        """(company, error column field, reason): by domain when the row has one, else by name."""
        if row.get("company_domain"):
            found = self.domains.get(row["company_domain"].lower())
            if not found:
                return None, "company_domain", (f"no company with domain {row['company_domain']!r} in this tenant; "
                                                "import companies first")
            return found[0], None, None
        if row.get("company_name"):
            found = self.names.get(row["company_name"].lower(), [])
            if len(found) != 1:
                why = "no company" if not found else f"{len(found)} companies"
                return None, "company_name", (f"{why} named {row['company_name']!r} in this tenant; "
                                              + ("import companies first" if not found else "give company_domain"))
            return found[0], None, None
        return None, None, None

    def contact(self, row: dict) -> tuple[Contact | None, str | None]:
        if not row.get("contact_email"):
            return None, None
        found = self.emails.get(row["contact_email"].lower())
        if not found:
            return None, f"no contact with email {row['contact_email']!r} in this tenant; import contacts first"
        return found[0], None


def pipelines(session: Session) -> tuple[list[Pipeline], dict[Any, list[PipelineStage]]]:
    """All pipelines, default first, and their stages in order (a tenant has a handful)."""
    rows = session.scalars(select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.created_at)).all()
    stages: dict[Any, list[PipelineStage]] = defaultdict(list)
    for stage in session.scalars(select(PipelineStage).order_by(PipelineStage.position)):
        stages[stage.pipeline_id].append(stage)
    return list(rows), stages

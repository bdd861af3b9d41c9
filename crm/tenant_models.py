"""Which model scores an agency's leads or accounts (migration 0014), read by every scorer.

The pipeline's `scoring_choice` asset decides, per agency and entity type, between the pooled learned champion
and a transparent fallback fitted on the agency's own data (BG/NBD for purchase churn, a tenure life table for
contractual churn (migration 0019), an engagement model for leads), and records the fallback's parameters, the
comparison it decided on and why. No row means the learned champion (an install that has not run that asset yet
scores as before).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

Kind = Literal["learned", "bg_nbd", "survival", "engagement"]
KINDS: tuple[str, ...] = ("learned", "bg_nbd", "survival", "engagement")


@dataclass(frozen=True)
class ModelChoice:
    entity_type: str
    kind: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] = field(default_factory=dict)
    fitted_at: dt.datetime | None = None

    @property
    def is_fallback(self) -> bool:
        return self.kind != "learned"


_READ = text("select entity_type, kind, reason, params, comparison, fitted_at from tenant_models "
             "where tenant_id = app_tenant_id() and entity_type = :e")
_WRITE = text("""
insert into tenant_models (tenant_id, entity_type, kind, params, comparison, reason, fitted_at)
values (app_tenant_id(), :entity_type, :kind, cast(:params as jsonb), cast(:comparison as jsonb), :reason, :fitted_at)
on conflict (tenant_id, entity_type) do update set kind = excluded.kind, params = excluded.params,
  comparison = excluded.comparison, reason = excluded.reason, fitted_at = excluded.fitted_at
""")


def choice(session: Session, entity_type: str) -> ModelChoice | None:
    """The session tenant's choice for `entity_type` ('lead' | 'account'), None when none was recorded."""
    row = session.execute(_READ, {"e": entity_type}).first()
    if row is None:
        return None
    return ModelChoice(row.entity_type, row.kind, row.reason, row.params, row.comparison, row.fitted_at)


def record(session: Session, chosen: ModelChoice) -> None:
    if chosen.kind not in KINDS:
        raise ValueError(f"unknown model kind {chosen.kind!r}; one of {', '.join(KINDS)}")
    session.execute(_WRITE, {"entity_type": chosen.entity_type, "kind": chosen.kind,
                             "params": json.dumps(chosen.params), "comparison": json.dumps(chosen.comparison),
                             "reason": chosen.reason, "fitted_at": chosen.fitted_at or dt.datetime.now(dt.UTC)})

"""Which model scores an agency's entities: its recorded choice (crm.tenant_models) or the pooled champion.

One place for every scorer (batch, live refresh, `?fresh=true`, what-if): an agency whose choice is a fallback is
scored by it even while no learned champion exists; otherwise the champion scores, and without one nothing does.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.orm import Session

from crm import tenant_models
from crm.live_features import ENTITY_KEYS
from serving.fallback import FallbackModel
from serving.models import ACCOUNT_MODEL, LEAD_MODEL, LoadedModel
from serving.scoring import Score, score_frame

MODEL_NAMES: dict[str, str] = {"lead": LEAD_MODEL, "account": ACCOUNT_MODEL}
Scorer = LoadedModel | FallbackModel


def scorer_for(session: Session, entity_type: str, champion: LoadedModel | None) -> Scorer | None:
    """The session tenant's scorer for `entity_type`: its fallback if chosen, else the champion (or None)."""
    chosen = tenant_models.choice(session, entity_type)
    if chosen is not None and chosen.is_fallback:
        return FallbackModel.of(chosen, MODEL_NAMES[entity_type])
    return champion


def score_with(scorer: Scorer, entity_type: str, frame: pl.DataFrame, explain: bool = True) -> list[Score]:
    if isinstance(scorer, FallbackModel):
        return scorer.score(frame, ENTITY_KEYS[entity_type], explain=explain)
    return score_frame(scorer, frame, explain=explain)


def features_of(scorer: Scorer) -> tuple[str, ...]:
    """The feature columns the scorer reads (what-if accepts changes to these)."""
    return scorer.features if isinstance(scorer, FallbackModel) else tuple(scorer.bundle.features)

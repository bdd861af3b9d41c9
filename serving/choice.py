"""Which model scores an agency's entities: its recorded choice (crm.tenant_models) or the pooled champion.

One place for every scorer (batch, live refresh, `?fresh=true`, what-if): an agency whose choice is a fallback is
scored by it even while no learned champion exists; otherwise the champion scores, and without one nothing does.
The champion scores accounts with the BG/NBD quantities of the agency's own fit as features (crm.btyd_features:
the fit the choice stored with the agency's row, from its current histories), so every path computes them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy.orm import Session

from crm import btyd_features, tenant_models
from crm.btyd import BgNbd
from crm.live_features import ENTITY_KEYS
from serving.fallback import FallbackModel
from serving.models import ACCOUNT_MODEL, LEAD_MODEL, LoadedModel
from serving.scoring import Score, score_frame

MODEL_NAMES: dict[str, str] = {"lead": LEAD_MODEL, "account": ACCOUNT_MODEL}


@dataclass(frozen=True)
class LearnedForAgency:
    """The champion with what its account features need from one agency: its BG/NBD fit (None: no fit)."""

    model: LoadedModel
    purchase_model: BgNbd | None

    def features_of(self, frame: pl.DataFrame) -> pl.DataFrame:
        return btyd_features.with_quantities(frame, self.purchase_model)


Scorer = LoadedModel | FallbackModel | LearnedForAgency


def scorer_for(session: Session, entity_type: str, champion: LoadedModel | None) -> Scorer | None:
    """The session tenant's scorer for `entity_type`: its fallback if chosen, else the champion (or None)."""
    chosen = tenant_models.choice(session, entity_type)
    if chosen is not None and chosen.is_fallback:
        return FallbackModel.of(chosen, MODEL_NAMES[entity_type])
    if champion is not None and entity_type == "account":
        return LearnedForAgency(champion, btyd_features.model_of(chosen.params if chosen else None))
    return champion


def score_with(scorer: Scorer, entity_type: str, frame: pl.DataFrame, explain: bool = True) -> list[Score]:
    if isinstance(scorer, FallbackModel):
        return scorer.score(frame, ENTITY_KEYS[entity_type], explain=explain)
    if isinstance(scorer, LearnedForAgency):
        return score_frame(scorer.model, scorer.features_of(frame), explain=explain)
    return score_frame(scorer, frame, explain=explain)


def features_of(scorer: Scorer) -> tuple[str, ...]:
    """The feature columns the scorer reads (what-if accepts changes to these)."""
    if isinstance(scorer, FallbackModel):
        return scorer.features
    model = scorer.model if isinstance(scorer, LearnedForAgency) else scorer
    return tuple(model.bundle.features)

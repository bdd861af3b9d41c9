"""Scores API: published lead/account scores with reasons, history, fresh re-scoring, batch and what-if.

Published scores come from the live refresh (seconds after any change) and batch scoring (`scores`,
`score_history`); both compute features as of the moment of scoring. `?fresh=true` computes this entity's
features as of this request with the same generated SQL (`crm.live_features`; the app provides the compiled
queries as `app.state.feature_queries`) and scores them with the champion loaded in this process. What-if
starts from the feature row the current score was computed from (`analytics.features_latest`). Everything
is read through the tenant's RLS session, so another tenant's id is simply not found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import polars as pl
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.convertors import StringConvertor, register_url_convertor

from api import fast_lane
from api.deps import CallerDep, SessionDep, in_tenant_transaction, principal_of, read_in_one_trip
from api.errors import ApiError
from api.schemas.scores import (
    AccountBatchRead,
    AccountBatchRequest,
    AccountScoreItem,
    LeadBatchRead,
    LeadBatchRequest,
    LeadScoreItem,
    ModelRef,
    ScoreRead,
    WhatIfRead,
    WhatIfRequest,
)
from crm import live_features, scores
from crm.db import one_trip
from crm.live_features import ENTITY_KEYS, EntityType
from serving.choice import MODEL_NAMES, Scorer, features_of, score_with, scorer_for
from serving.models import LoadedModel, champions
from serving.scoring import score_rows


class _Segment(StringConvertor):
    """A path segment without ':' — so `GET /leads/{id}:what-if` is a 405 (that URL takes POST), not a
    GET of a lead whose id is "...:what-if"."""

    regex = "[^/:]+"


register_url_convertor("segment", _Segment())
router = APIRouter(prefix="/scores", tags=["scores"])
LABELS = {"lead": "contact", "account": "company"}
POPULATIONS = {"lead": "an open lead", "account": "a customer account"}


def _read(row: Any) -> ScoreRead:
    """A published score row (a SQLAlchemy row or a one-trip dict) as the API's answer."""
    row = getattr(row, "_mapping", row)
    # every published score is computed from features as of its scoring instant (live refresh and batch alike)
    return ScoreRead(score=row["score"], probability=row["probability"], tier=row["tier"].strip(),
                     factors=row["factors"], model=ModelRef.of(row["model_name"], row["model_version"],
                                                              row["model_kind"]),
                     scored_at=row["scored_at"], as_of=row["scored_at"])


def _not_scored(entity_type: str, entity_id: uuid.UUID, when: str = "") -> ApiError:
    return ApiError(404, f"no score for {LABELS[entity_type]} {entity_id}{when}", type_="/problems/not-found")


def _model(session: Session, entity_type: str) -> Scorer:
    """The agency's scorer: its own fallback if that was chosen for it, else the champion."""
    model = scorer_for(session, entity_type, champions().get(MODEL_NAMES[entity_type]))
    if model is None:
        # Not a server fault but the agency's state (no model trained yet): a 4xx the client can act on.
        raise ApiError(404, f"no model yet: no champion '{MODEL_NAMES[entity_type]}' model is registered and no "
                            "fallback was fitted for this agency, so nothing can be scored; run the ml pipeline",
                       type_="/problems/no-model")
    return model


def _features(session: Session, entity_type: str, entity_id: uuid.UUID) -> dict[str, Any]:
    features = scores.published_features(session, entity_type, entity_id)
    if features is None:
        raise _not_scored(entity_type, entity_id, " (no published features)")
    return features


def _score_now(model: Scorer, entity_type: str, entity_id: uuid.UUID, features: dict[str, Any]) -> ScoreRead:
    key = ENTITY_KEYS[entity_type]
    if isinstance(model, LoadedModel):
        (scored,) = score_rows(model, [{**features, key: str(entity_id)}])
    else:
        (scored,) = score_with(model, entity_type, pl.DataFrame([{**features, key: str(entity_id)}],
                                                                 infer_schema_length=None))
    now = dt.datetime.now(dt.UTC)
    return ScoreRead(**{**scored.as_dict(), "model": ModelRef.of(scored.model_name, scored.model_version,
                                                                 scored.model_kind)}, scored_at=now, as_of=now)


def _features_now(request: Request, session: Session, entity_type: EntityType, entity_id: uuid.UUID) -> dict:
    provider = getattr(request.app.state, "feature_queries", None)
    if provider is None:  # an API assembled without the live feature SQL (app/web.py provides it)
        raise ApiError(503, "fresh scoring is not available here: the live feature SQL is not configured",
                       type_="/problems/unavailable")
    queries = provider()
    frame = live_features.compute(session, queries, entity_type, [entity_id], dt.datetime.now(dt.UTC))
    if frame.is_empty():
        raise _not_scored(entity_type, entity_id, f" (not {POPULATIONS[entity_type]} now)")
    return frame.row(0, named=True)


def _get_then(request: Request, session: Session, entity_type: EntityType, entity_id: uuid.UUID,
              as_of: dt.date | None, fresh: bool) -> ScoreRead:
    if fresh:
        model = _model(session, entity_type)  # before the features: no model, no work
        return _score_now(model, entity_type, entity_id, _features_now(request, session, entity_type, entity_id))
    row = scores.as_of(session, entity_type, entity_id, as_of)
    if row is None:
        raise _not_scored(entity_type, entity_id, f" on or before {as_of}")
    return _read(row)


async def _get(request: Request, caller: one_trip.Caller, entity_type: EntityType, entity_id: uuid.UUID,
               as_of: dt.date | None, fresh: bool) -> Response:
    if fresh and as_of is not None:
        raise ApiError(422, "use either as_of (a past score) or fresh=true (a score now), not both",
                       type_="/problems/validation")
    if fresh or as_of is not None:   # the published score of a past day, or a score computed now: a session's work
        principal = await principal_of(request, caller)
        read = await in_tenant_transaction(principal, lambda session: _get_then(request, session, entity_type,
                                                                               entity_id, as_of, fresh))
    else:   # the hot path: the current published score, in one round trip
        (rows,) = await read_in_one_trip(request, caller,
                                         one_trip.Statement(_CURRENT.sql, {"e": entity_type, "i": entity_id}))
        if not rows:
            raise _not_scored(entity_type, entity_id)
        read = _read(rows[0])
    return Response(ScoreRead.__pydantic_serializer__.to_json(read), media_type="application/json")


_CURRENT = one_trip.Statement.of(scores.CURRENT)   # compiled once
AsOf = Query(None, description="Answer from score history: the score as it stood at the end of this date (UTC)")
Fresh = Query(False, description="Compute the features as of this request and score them with the current champion")


@router.get("/leads/{contact_id:segment}", response_model=ScoreRead, summary="A lead's conversion score with reasons")
async def lead_score(contact_id: uuid.UUID, request: Request, caller: CallerDep, as_of: dt.date | None = AsOf,
                     fresh: bool = Fresh) -> ScoreRead:
    return await _get(request, caller, "lead", contact_id, as_of, fresh)


fast_lane.register("scores/leads", lambda request, caller, id_: _get(request, caller, "lead", id_, None, False),
                   router.routes[-1])


@router.get("/accounts/{company_id:segment}", response_model=ScoreRead, summary="An account's churn risk with reasons")
async def account_score(company_id: uuid.UUID, request: Request, caller: CallerDep,
                        as_of: dt.date | None = AsOf, fresh: bool = Fresh) -> ScoreRead:
    return await _get(request, caller, "account", company_id, as_of, fresh)


fast_lane.register("scores/accounts",
                   lambda request, caller, id_: _get(request, caller, "account", id_, None, False), router.routes[-1])


@router.post("/leads:batch", response_model=LeadBatchRead, summary="Published scores of up to 1,000 leads")
def lead_scores_batch(body: LeadBatchRequest, session: SessionDep) -> LeadBatchRead:
    ids = list(dict.fromkeys(body.contact_ids))
    found = scores.current_many(session, "lead", ids)
    data = [LeadScoreItem(contact_id=i, **_read(found[i]).model_dump()) for i in ids if i in found]
    return LeadBatchRead(data=data, missing=[i for i in ids if i not in found])


@router.post("/accounts:batch", response_model=AccountBatchRead,
             summary="Published churn risks of up to 1,000 accounts")
def account_scores_batch(body: AccountBatchRequest, session: SessionDep) -> AccountBatchRead:
    ids = list(dict.fromkeys(body.company_ids))
    found = scores.current_many(session, "account", ids)
    data = [AccountScoreItem(company_id=i, **_read(found[i]).model_dump()) for i in ids if i in found]
    return AccountBatchRead(data=data, missing=[i for i in ids if i not in found])


@router.post("/leads/{contact_id}:what-if", response_model=WhatIfRead,
             summary="The score if some feature values were different, and the change")
def lead_what_if(contact_id: uuid.UUID, body: WhatIfRequest, session: SessionDep) -> WhatIfRead:
    model = _model(session, "lead")
    known = features_of(model)
    categorical = model.bundle.categorical if isinstance(model, LoadedModel) else {}
    unknown = sorted(set(body.features) - set(known))
    if unknown:
        raise ApiError(422, f"unknown feature(s) {', '.join(unknown)}; the model uses: {', '.join(known)}",
                       type_="/problems/validation")
    for name, value in body.features.items():
        if value is not None and name not in categorical and isinstance(value, str):
            raise ApiError(422, f"{name} takes a number, not {value!r}", type_="/problems/validation")
    features = _features(session, "lead", contact_id)
    baseline = _score_now(model, "lead", contact_id, features)
    changed = _score_now(model, "lead", contact_id, {**features, **body.features})
    return WhatIfRead(**changed.model_dump(), baseline=baseline, delta=changed.score - baseline.score,
                      delta_probability=round(changed.probability - baseline.probability, 6),
                      changed=body.features)

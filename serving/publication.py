"""Scores and feature rows shaped for `crm.scores` (the one writer): shared by batch and live scoring."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import polars.selectors as cs

from serving.scoring import Score


def score_records(scores: list[Score], scored_at: dt.datetime) -> list[dict]:
    return [{"entity_id": s.entity_id, "score": s.score, "probability": s.probability, "tier": s.tier,
             "factors": json.dumps(s.factors), "model_name": s.model_name, "model_version": s.model_version,
             "model_kind": s.model_kind, "scored_at": scored_at} for s in scores]


def feature_records(features: pl.DataFrame, entity_key: str, published_at: dt.datetime) -> list[dict]:
    """One row per entity: its feature values as JSON (NaN as null), without tenant and label columns."""
    frame = features.drop(["tenant_id", "converted_90d", "churned_90d"], strict=False)
    return [{"entity_id": str(r.pop(entity_key)), "as_of_date": r.pop("as_of_date"),
             "features": json.dumps(r, default=str), "published_at": published_at}
            for r in frame.with_columns(cs.float().fill_nan(None)).to_dicts()]

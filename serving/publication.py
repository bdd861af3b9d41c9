"""Scores and feature rows shaped for `crm.scores` (the one writer): shared by batch and live scoring."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from serving.scoring import Score


def score_records(scores: list[Score], scored_at: dt.datetime) -> list[dict]:
    return [{"entity_id": s.entity_id, "score": s.score, "probability": s.probability, "tier": s.tier,
             "factors": json.dumps(s.factors), "model_name": s.model_name, "model_version": s.model_version,
             "model_kind": s.model_kind, "scored_at": scored_at} for s in scores]


def feature_records(features: pl.DataFrame, entity_key: str, published_at: dt.datetime) -> list[dict]:
    """One row per entity: its feature values as JSON (NaN as null), without tenant and label columns.

    Plain Python over `to_dicts()`: the live path publishes a handful of entities per batch, where polars'
    drop and NaN fill cost about 1.5 ms each call against 0.2 ms; on a whole tenant it costs the same."""
    floats = [name for name, dtype in features.schema.items() if dtype.is_float()]
    out = []
    for row in features.to_dicts():
        for name in floats:
            if row[name] != row[name]:   # NaN
                row[name] = None
        for name in ("tenant_id", "converted_90d", "churned_90d"):
            row.pop(name, None)
        entity, as_of_date = row.pop(entity_key), row.pop("as_of_date")
        out.append({"entity_id": str(entity), "as_of_date": as_of_date, "features": json.dumps(row, default=str),
                    "published_at": published_at})
    return out

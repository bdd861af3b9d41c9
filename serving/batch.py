"""Batch scoring: every entity in the newest feature snapshot, scored by the champion, published per tenant.

The snapshot is read through `crm.warehouse` (the DuckDB file or the dbt postgres target, whichever
CRM_WAREHOUSE names). Each tenant's run is published by `crm.scores.publish` inside
`tenant_session(tenant)` (RLS applies to the writer too): the current `scores`, one `score_history` row per
entity, and the `analytics.features_latest` row the score was computed from (for `?fresh=true`/what-if).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import polars.selectors as cs
from sqlalchemy import text

from crm import scores as published
from crm.db.engine import tenant_session
from crm.warehouse import read_latest_snapshot
from serving.models import ACCOUNT_MODEL, LEAD_MODEL, LoadedModel, champion_version, load_version
from serving.scoring import Score, score_frame

log = logging.getLogger(__name__)
MARTS = {"lead": ("lead_features", "converted_90d", LEAD_MODEL),
         "account": ("account_features", "churned_90d", ACCOUNT_MODEL)}
KEYS = ("tenant_id", "as_of_date")


@dataclass
class BatchResult:
    entity_type: str
    model_name: str
    model_version: str
    rows: int = 0
    tenants: int = 0
    as_of_dates: list[str] = field(default_factory=list)


def read_latest(mart: str, warehouse_path: Path | None = None) -> pl.DataFrame:
    """Each tenant's newest snapshot of a feature mart (DECIMAL money columns as floats)."""
    frame = pl.from_arrow(read_latest_snapshot(mart, path=warehouse_path))
    return frame.with_columns(pl.col("tenant_id").cast(pl.Utf8), cs.decimal().cast(pl.Float64))


def write_tenant(tenant_id: str, entity_type: str, scores: list[Score], features: pl.DataFrame,
                 entity_key: str, scored_at: dt.datetime) -> None:
    score_rows = [{"entity_id": s.entity_id, "score": s.score, "probability": s.probability, "tier": s.tier,
                   "factors": json.dumps(s.factors), "model_name": s.model_name, "model_version": s.model_version,
                   "scored_at": scored_at} for s in scores]
    feature_rows = [{"entity_id": str(r.pop(entity_key)), "as_of_date": r.pop("as_of_date"),
                     "features": json.dumps(r, default=str), "published_at": scored_at}
                    for r in features.drop("tenant_id").with_columns(cs.float().fill_nan(None)).to_dicts()]
    with tenant_session(tenant_id) as s:
        if s.execute(text("select 1 from tenants where id = :t"), {"t": tenant_id}).first() is None:
            log.warning("skipping tenant %s: in the warehouse but not in PostgreSQL", tenant_id)
            return
        published.publish(s, entity_type, score_rows, feature_rows)


def score_entities(entity_type: str, model: LoadedModel | None = None, warehouse: Path | None = None,
                   scored_at: dt.datetime | None = None) -> BatchResult:
    """Score the newest snapshot of every tenant with the champion (or the given model) and publish."""
    mart, label, name = MARTS[entity_type]
    if model is None:
        version = champion_version(name)
        if version is None:
            raise RuntimeError(f"no '{name}' model has the champion alias yet: train it first (group ml)")
        model = load_version(name, version)
    scored_at = scored_at or dt.datetime.now(dt.UTC)
    frame = read_latest(mart, warehouse)
    result = BatchResult(entity_type, model.name, model.version)
    key = model.bundle.entity_key
    for (tenant_id,), part in frame.group_by("tenant_id", maintain_order=True):
        scores = score_frame(model, part)
        write_tenant(str(tenant_id), entity_type, scores, part.drop(label, strict=False), key, scored_at)
        result.rows += len(scores)
        result.tenants += 1
    result.as_of_dates = sorted({str(d) for d in frame["as_of_date"].unique().to_list()}) if frame.height else []
    return result

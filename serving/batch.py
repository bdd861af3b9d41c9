"""Batch scoring: every entity in the newest feature snapshot, scored by the champion, written per tenant.

Writes go through the app role inside `tenant_session(tenant)` (RLS applies to the writer too):
- `scores`: the current score per entity (entities no longer in the snapshot lose their current score,
  e.g. a lead that converted; their history stays);
- `score_history`: one row per entity per run, with the model version and `scored_at`;
- `analytics.features_latest`: the feature row the score was computed from, for `?fresh=true`/what-if.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import polars.selectors as cs
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.settings import get_settings
from serving.models import ACCOUNT_MODEL, LEAD_MODEL, LoadedModel, champion_version, load_version
from serving.scoring import Score, score_frame

log = logging.getLogger(__name__)
MARTS = {"lead": ("marts.lead_features", "converted_90d", LEAD_MODEL),
         "account": ("marts.account_features", "churned_90d", ACCOUNT_MODEL)}
KEYS = ("tenant_id", "as_of_date")


@dataclass
class BatchResult:
    entity_type: str
    model_name: str
    model_version: str
    rows: int = 0
    tenants: int = 0
    as_of_dates: list[str] = field(default_factory=list)


def read_latest(table: str, warehouse: Path | None = None) -> pl.DataFrame:
    """Each tenant's newest snapshot from the mart (read-only: the pipeline may be writing other tables)."""
    path = Path(warehouse or get_settings().warehouse_path)
    query = (f"select * from {table} f where as_of_date = "
             f"(select max(as_of_date) from {table} g where g.tenant_id = f.tenant_id)")
    with duckdb.connect(str(path), read_only=True) as con:
        frame = pl.from_arrow(con.sql(query).to_arrow_table())
    return frame.with_columns(pl.col("tenant_id").cast(pl.Utf8), cs.decimal().cast(pl.Float64))


UPSERT = text("""
insert into scores (tenant_id, entity_type, entity_id, score, probability, tier, factors, model_name,
                    model_version, scored_at)
values (:tenant_id, :entity_type, :entity_id, :score, :probability, :tier, cast(:factors as jsonb), :model_name,
        :model_version, :scored_at)
on conflict (tenant_id, entity_type, entity_id) do update set
  score = excluded.score, probability = excluded.probability, tier = excluded.tier, factors = excluded.factors,
  model_name = excluded.model_name, model_version = excluded.model_version, scored_at = excluded.scored_at
""")
HISTORY = text("""
insert into score_history (tenant_id, entity_type, entity_id, score, probability, tier, factors, model_name,
                           model_version, scored_at)
values (:tenant_id, :entity_type, :entity_id, :score, :probability, :tier, cast(:factors as jsonb), :model_name,
        :model_version, :scored_at)
""")
FEATURES = text("""
insert into analytics.features_latest (tenant_id, entity_type, entity_id, as_of_date, features, published_at)
values (:tenant_id, :entity_type, :entity_id, :as_of_date, cast(:features as jsonb), :published_at)
on conflict (tenant_id, entity_type, entity_id) do update set
  as_of_date = excluded.as_of_date, features = excluded.features, published_at = excluded.published_at
""")


def write_tenant(tenant_id: str, entity_type: str, scores: list[Score], features: pl.DataFrame,
                 entity_key: str, scored_at: dt.datetime) -> None:
    ids = [s.entity_id for s in scores]
    rows = [{"tenant_id": tenant_id, "entity_type": entity_type, "entity_id": s.entity_id, "score": s.score,
             "probability": s.probability, "tier": s.tier, "factors": json.dumps(s.factors),
             "model_name": s.model_name, "model_version": s.model_version, "scored_at": scored_at} for s in scores]
    feature_rows = [{"tenant_id": tenant_id, "entity_type": entity_type, "entity_id": str(r.pop(entity_key)),
                     "as_of_date": r.pop("as_of_date"), "features": json.dumps(r, default=str),
                     "published_at": scored_at}
                    for r in features.drop("tenant_id").with_columns(cs.float().fill_nan(None)).to_dicts()]
    with tenant_session(tenant_id) as s:
        if s.execute(text("select 1 from tenants where id = :t"), {"t": tenant_id}).first() is None:
            log.warning("skipping tenant %s: in the warehouse but not in PostgreSQL", tenant_id)
            return
        for table in ("scores", "analytics.features_latest"):
            s.execute(text(f"delete from {table} where entity_type = :e "
                           "and not (entity_id = any(cast(:ids as uuid[])))"), {"e": entity_type, "ids": ids})
        if rows:
            s.execute(UPSERT, rows)
            s.execute(HISTORY, rows)
            s.execute(FEATURES, feature_rows)


def score_entities(entity_type: str, model: LoadedModel | None = None, warehouse: Path | None = None,
                   scored_at: dt.datetime | None = None) -> BatchResult:
    """Score the newest snapshot of every tenant with the champion (or the given model) and publish."""
    table, label, name = MARTS[entity_type]
    if model is None:
        version = champion_version(name)
        if version is None:
            raise RuntimeError(f"no '{name}' model has the champion alias yet: train it first (group ml)")
        model = load_version(name, version)
    scored_at = scored_at or dt.datetime.now(dt.UTC)
    frame = read_latest(table, warehouse)
    result = BatchResult(entity_type, model.name, model.version)
    key = model.bundle.entity_key
    for (tenant_id,), part in frame.group_by("tenant_id", maintain_order=True):
        scores = score_frame(model, part)
        write_tenant(str(tenant_id), entity_type, scores, part.drop(label, strict=False), key, scored_at)
        result.rows += len(scores)
        result.tenants += 1
    result.as_of_dates = sorted({str(d) for d in frame["as_of_date"].unique().to_list()}) if frame.height else []
    return result

"""Batch scoring: every entity of every tenant scored by the champion and published, tenant by tenant.

`score_now` (the pipeline's scoring assets) computes each tenant's features as of now from the compiled dbt
marts (`crm.live_features`), exactly as the live refresh does for touched entities, and takes off the live
refresh queue every change it answered (`crm.live_queue.mark_batch` / `settle_batch`): after a first run's
bulk load, the refresher does not score the whole agency a second time. `score_entities` scores
a stored snapshot instead (each tenant's newest month-end in the warehouse, read through `crm.warehouse`):
backfills and tests with a known feature table. Each tenant's run is published by `crm.scores.publish` inside
`tenant_session(tenant)` (RLS applies to the writer too): the current `scores`, one `score_history` row per
entity, and the `analytics.features_latest` row the score was computed from (for `?fresh=true`/what-if).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import polars.selectors as cs
from sqlalchemy import text

from crm import btyd_features, live_queue
from crm import scores as published
from crm.db.engine import tenant_session
from crm.live_features import EntityType, FeatureQueries
from crm.tenancy import all_tenant_ids
from crm.warehouse import read_latest_snapshot
from serving.live.refresh import refresh_entities
from serving.models import ACCOUNT_MODEL, LEAD_MODEL, LoadedModel, champion_version, load_version
from serving.publication import feature_records, score_records
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
    settled: int = 0  # queued live refresh rows this pass answered (with the other type's newest pass)
    kinds: dict[str, int] = field(default_factory=dict)  # tenants scored per model kind (learned, bg_nbd, ...)


def read_latest(mart: str, warehouse_path: Path | None = None) -> pl.DataFrame:
    """Each tenant's newest snapshot of a feature mart (DECIMAL money columns as floats)."""
    frame = pl.from_arrow(read_latest_snapshot(mart, path=warehouse_path))
    return frame.with_columns(pl.col("tenant_id").cast(pl.Utf8), cs.decimal().cast(pl.Float64))


def write_tenant(tenant_id: str, entity_type: str, scores: list[Score], features: pl.DataFrame,
                 entity_key: str, scored_at: dt.datetime) -> None:
    with tenant_session(tenant_id) as s:
        if s.execute(text("select 1 from tenants where id = :t"), {"t": tenant_id}).first() is None:
            log.warning("skipping tenant %s: in the warehouse but not in PostgreSQL", tenant_id)
            return
        published.publish(s, entity_type, score_records(scores, scored_at),
                          feature_records(features, entity_key, scored_at))


def _champion(name: str) -> LoadedModel:
    version = champion_version(name)
    if version is None:
        raise RuntimeError(f"no '{name}' model has the champion alias yet: train it first (group ml)")
    return load_version(name, version)


def score_now(entity_type: EntityType, queries: FeatureQueries, model: LoadedModel | None = None,
              scored_at: dt.datetime | None = None, tenant_ids: list[str] | None = None) -> BatchResult:
    """Every entity of every tenant (or of `tenant_ids`) with features as of `scored_at` (now), scored by the
    tenant's chosen model (its fallback, or the champion; neither: features only) and published."""
    name = MARTS[entity_type][2]
    if model is None:
        version = champion_version(name)
        model = load_version(name, version) if version is not None else None
    scored_at = scored_at or dt.datetime.now(dt.UTC)
    result = BatchResult(entity_type, name, model.version if model else "",
                         as_of_dates=[scored_at.date().isoformat()])
    for tenant_id in all_tenant_ids() if tenant_ids is None else tenant_ids:
        with tenant_session(tenant_id) as session:
            live_queue.mark_batch(session, entity_type, scored_at)
            done = refresh_entities(session, queries, entity_type, None, scored_at, model)
            result.settled += live_queue.settle_batch(session)
        result.rows += done.scored
        result.tenants += 1
        if done.kind:
            result.kinds[done.kind] = result.kinds.get(done.kind, 0) + 1
    return result


def score_entities(entity_type: str, model: LoadedModel | None = None, warehouse: Path | None = None,
                   scored_at: dt.datetime | None = None) -> BatchResult:
    """Score the newest snapshot of every tenant with the champion (or the given model) and publish."""
    mart, _, name = MARTS[entity_type]
    model = model or _champion(name)
    scored_at = scored_at or dt.datetime.now(dt.UTC)
    frame = read_latest(mart, warehouse)
    result = BatchResult(entity_type, model.name, model.version)
    key = model.bundle.entity_key
    for (tenant_id,), part in frame.group_by("tenant_id", maintain_order=True):
        # a stored month-end is scored as training saw one: BG/NBD fitted on that month-end's rows
        scored = btyd_features.at_month_ends(part) if entity_type == "account" else part
        scores = score_frame(model, scored)
        write_tenant(str(tenant_id), entity_type, scores, part, key, scored_at)
        result.rows += len(scores)
        result.tenants += 1
    result.as_of_dates = sorted({str(d) for d in frame["as_of_date"].unique().to_list()}) if frame.height else []
    return result

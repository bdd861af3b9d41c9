"""Reading a feature mart and deciding, generically, which of its columns are features.

Every column except the keys, the label and `exclude` is a feature: numbers and booleans as they are,
strings as LightGBM categorical features (levels recorded for serving). Date/time columns and string
`*_id` columns are never features (identifiers and timestamps do not generalise across entities).
"""

from __future__ import annotations

import logging

import polars as pl
import polars.selectors as cs

from crm import btyd_features
from crm.model_bundle import ModelBundle
from crm.warehouse import mart_table, query
from models_ml.config import TrainConfig

log = logging.getLogger(__name__)


def read_features(cfg: TrainConfig, labelled_only: bool = False) -> pl.DataFrame:
    """The feature mart as a polars frame, through the one warehouse door (DuckDB read-only or the postgres
    target, per CRM_WAREHOUSE; `cfg.warehouse_path` names another DuckDB file)."""
    table = mart_table(cfg.table, path=cfg.warehouse_path)
    where = f"where {cfg.label} is not null" if labelled_only else ""
    frame = pl.from_arrow(query(f"select * from {table} {where} order by as_of_date, tenant_id, {cfg.entity_key}",
                                path=cfg.warehouse_path))
    missing = [c for c in [*cfg.keys, cfg.label] if c not in frame.columns]
    if missing:
        raise ValueError(f"{cfg.table} lacks required columns {missing}")
    # DECIMAL money columns become floats: LightGBM and JSON both want plain numbers.
    return frame.with_columns(pl.col("tenant_id").cast(pl.Utf8), pl.col(cfg.entity_key).cast(pl.Utf8),
                              pl.col("as_of_date").cast(pl.Date), cs.decimal().cast(pl.Float64))


def with_fitted_features(frame: pl.DataFrame, entity_type: str) -> pl.DataFrame:
    """Mart rows with the features a per-agency fit gives (not dbt columns): for accounts, the BG/NBD
    quantities fitted per agency and month-end on that month-end's rows (crm.btyd_features)."""
    return btyd_features.at_month_ends(frame) if entity_type == "account" else frame


def feature_columns(frame: pl.DataFrame, cfg: TrainConfig) -> tuple[list[str], dict[str, list[str]]]:
    """(feature names, categorical levels) chosen from the frame's columns and dtypes."""
    skip = {*cfg.keys, cfg.label, *cfg.exclude}
    features: list[str] = []
    categorical: dict[str, list[str]] = {}
    for name, dtype in frame.schema.items():
        if name in skip:
            continue
        if dtype.is_numeric() or dtype == pl.Boolean:
            features.append(name)
        elif dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum):
            if name.endswith("_id"):
                continue
            levels = sorted(frame.get_column(name).cast(pl.Utf8).drop_nulls().unique().to_list())
            if len(levels) > cfg.max_categories:
                log.warning("dropping %s: %d levels > max_categories=%d", name, len(levels), cfg.max_categories)
                continue
            features.append(name)
            categorical[name] = levels
    if not features:
        raise ValueError(f"{cfg.table} has no usable feature columns")
    return features, categorical


def bundle_for(frame: pl.DataFrame, cfg: TrainConfig) -> ModelBundle:
    features, categorical = feature_columns(frame, cfg)
    return ModelBundle(name=cfg.model_name, entity_type=cfg.entity_type, entity_key=cfg.entity_key,
                       features=features, categorical=categorical, horizon_days=cfg.horizon_days)

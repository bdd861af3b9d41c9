"""Test support for the ML parts: synthetic feature marts with a known signal, a fast MLflow store,
and models trained once per test process. Plain functions (cached), so any test module can use them."""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
import uuid
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

MONTH_ENDS = [dt.date(2025 + (m + 1) // 12, (m + 1) % 12 + 1, 1) - dt.timedelta(days=1) for m in range(7, 23)]
UNOBSERVED = 3  # the newest month-ends have no label yet (their 90-day horizon is in the future)
SOURCES = ["referral", "paid_search", "organic", "events"]
SOURCE_EFFECT = {"referral": 0.9, "paid_search": -0.3, "organic": 0.0, "events": 0.3}


def lead_frame(tenants: list[str] | None = None, sizes=(600, 300, 100), seed: int = 1,
               strength: float = 1.0) -> pl.DataFrame:
    """Lead snapshots at month-ends: conversion odds rise with email replies, web visits, a referral
    source and a decision-maker title, and fall with days since the last activity; `noise` is noise."""
    rng = np.random.default_rng(seed)
    tenants = tenants or [str(uuid.uuid4()) for _ in sizes]
    parts = []
    for tenant, size in zip(tenants, sizes, strict=True):
        contacts = [str(uuid.uuid4()) for _ in range(size)]
        source = rng.choice(SOURCES, size)
        decision_maker = rng.random(size) < 0.3
        engagement = rng.gamma(2.0, 1.0, size)
        for i, as_of in enumerate(MONTH_ENDS):
            replies = rng.poisson(engagement * 0.8)
            visits = rng.poisson(engagement * 2.5)
            days_since = np.round(rng.exponential(30 / (0.5 + engagement)), 0)
            days_since = np.where(rng.random(size) < 0.05, np.nan, days_since)
            logit = strength * (-3.2 + 0.55 * replies + 0.12 * visits - 0.03 * np.nan_to_num(days_since, nan=60)
                                + np.vectorize(SOURCE_EFFECT.get)(source) + 0.6 * decision_maker)
            p = 1 / (1 + np.exp(-logit))
            label = (rng.random(size) < p).astype(np.int8)
            observed = i < len(MONTH_ENDS) - UNOBSERVED
            parts.append(pl.DataFrame({
                "tenant_id": [tenant] * size, "contact_id": contacts, "as_of_date": [as_of] * size,
                "emails_replied_30d": replies, "web_visits_30d": visits, "days_since_last_activity": days_since,
                "lead_source": source, "is_decision_maker": decision_maker, "noise": rng.normal(size=size),
                "converted_90d": pl.Series(label if observed else [None] * size, dtype=pl.Int8),
                "p_convert_90d": p,
            }))
    return pl.concat(parts)


def account_frame(sizes=(300, 150), seed: int = 2) -> pl.DataFrame:
    """Account snapshots: churn odds rise with open support tickets and fall with orders."""
    rng = np.random.default_rng(seed)
    parts = []
    for size, mode in zip(sizes, ("contractual", "activity"), strict=False):
        tenant = str(uuid.uuid4())
        companies = [str(uuid.uuid4()) for _ in range(size)]
        health = rng.normal(size=size)
        for i, as_of in enumerate(MONTH_ENDS):
            tickets = rng.poisson(np.exp(-health) * 0.8)
            orders = rng.poisson(np.exp(health) * 1.2)
            p = 1 / (1 + np.exp(-(-2.2 + 0.5 * tickets - 0.4 * orders)))
            label = (rng.random(size) < p).astype(np.int8)
            observed = i < len(MONTH_ENDS) - UNOBSERVED
            parts.append(pl.DataFrame({
                "tenant_id": [tenant] * size, "company_id": companies, "as_of_date": [as_of] * size,
                "churn_mode": [mode] * size, "support_tickets_90d": tickets, "orders_90d": orders,
                "churned_90d": pl.Series(label if observed else [None] * size, dtype=pl.Int8),
                "p_churn_90d": p,
            }))
    return pl.concat(parts)


def write_mart(path: Path, table: str, frame: pl.DataFrame) -> Path:
    """Write a frame as a DuckDB table (the truth column stays out of the mart, as in the real one)."""
    mart = frame.drop([c for c in ("p_convert_90d", "p_churn_90d") if c in frame.columns])
    with duckdb.connect(str(path)) as con:
        con.register("frame", mart.to_arrow())
        con.execute("create schema if not exists marts")
        con.execute(f"create or replace table marts.{table} as select * from frame")
    return path


def install_mlflow_store(cache_dir: Path) -> None:
    """Copy an empty MLflow sqlite store into $CRM_HOME instead of paying ~16 s of schema migrations
    per test process; the template is built once per machine (file lock: xdist workers race)."""
    from crm.settings import get_settings

    target = get_settings().home / "mlflow.db"
    if target.exists():
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    import mlflow

    template = cache_dir / f"mlflow-{mlflow.__version__}.db"
    with open(cache_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            building = cache_dir / f"building-{uuid.uuid4().hex}.db"
            from mlflow import MlflowClient

            MlflowClient(tracking_uri=f"sqlite:///{building}").search_experiments()
            building.rename(template)
    shutil.copyfile(template, target)


def _fast():
    from models_ml.config import LightGBMParams

    # Tests check behaviour, not the last bit of AUC: fewer, larger boosting steps on one thread.
    return LightGBMParams(learning_rate=0.1, early_stopping_rounds=30, num_threads=1)


FAST = _fast()
CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "crm-mlflow"


@lru_cache
def trained_models(home: str) -> dict:
    """lead_score and churn_risk trained on synthetic marts and promoted, once per test process
    (keyed by CRM_HOME so a process never reuses another home's store)."""
    from models_ml.config import churn_config, lead_config
    from models_ml.job import train_and_register

    install_mlflow_store(CACHE)
    path = Path(home) / f"ml-{uuid.uuid4().hex[:6]}.duckdb"
    leads, accounts = lead_frame(), account_frame()
    write_mart(path, "lead_features", leads)
    write_mart(path, "account_features", accounts)
    truth_dir = Path(home) / f"truth-{uuid.uuid4().hex[:6]}"
    truth_dir.mkdir()
    leads.write_parquet(truth_dir / "leads.parquet")
    accounts.write_parquet(truth_dir / "accounts.parquet")
    lead = train_and_register(lead_config(warehouse_path=path, truth_dir=truth_dir, lgbm=FAST))
    churn = train_and_register(churn_config(warehouse_path=path, truth_dir=truth_dir, lgbm=FAST))
    return {"warehouse": path, "leads": leads, "accounts": accounts, "lead": lead, "churn": churn}

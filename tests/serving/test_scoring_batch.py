"""Batch scoring into PostgreSQL: every open lead scored with factors, history kept, tenants isolated."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.settings import get_settings
from serving.batch import score_entities
from serving.models import champions
from tests import ml_support
from tests.conftest import make_tenant


def _setup(tmp_path, sizes=(40, 25)):
    ml_support.trained_models(str(get_settings().home))
    tenants = [make_tenant("Batch")["tenant_id"] for _ in sizes]
    frame = ml_support.lead_frame(tenants=tenants, sizes=sizes, seed=5)
    path = ml_support.write_mart(tmp_path / "w.duckdb", "lead_features", frame)
    latest = frame.filter(pl.col("as_of_date") == frame["as_of_date"].max())
    return tenants, frame, path, latest


def _rows(tenant_id: str, sql: str, **params):
    with tenant_session(tenant_id) as s:
        return s.execute(text(sql), params).mappings().all()


def test_every_open_lead_scored_with_factors_and_history_kept(tmp_path):
    tenants, frame, path, latest = _setup(tmp_path)
    model = champions().get("lead_score")
    t1 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    result = score_entities("lead", model=model, warehouse=path, scored_at=t1)
    assert result.rows == latest.height and result.tenants == 2
    for tenant in tenants:
        expected = set(latest.filter(pl.col("tenant_id") == tenant)["contact_id"])
        rows = _rows(tenant, "select * from scores where entity_type = 'lead'")
        assert {str(r["entity_id"]) for r in rows} == expected
        for r in rows:
            assert r["factors"] and all(f["text"] and "impact" in f for f in r["factors"])
            assert r["model_name"] == "lead_score" and r["model_version"] == model.version
            assert r["tier"] in "ABCD" and r["score"] == round(r["probability"] * 100)
        published = _rows(tenant, "select entity_id, features from analytics.features_latest")
        assert len(published) == len(expected) and "emails_replied_30d" in published[0]["features"]

    # Second run: one lead converted (gone from the snapshot); its current score goes, its history stays.
    gone = latest["contact_id"][0]
    t2 = t1 + dt.timedelta(days=1)
    newer = frame.filter(pl.col("contact_id") != gone)
    ml_support.write_mart(path, "lead_features", newer)
    score_entities("lead", model=model, warehouse=path, scored_at=t2)
    tenant = latest["tenant_id"][0]
    history = _rows(tenant, "select entity_id, scored_at from score_history order by scored_at")
    per_entity = {}
    for r in history:
        per_entity.setdefault(str(r["entity_id"]), []).append(r["scored_at"])
    assert per_entity[gone] == [t1]
    assert all(v == [t1, t2] for k, v in per_entity.items() if k != gone)
    current = _rows(tenant, "select entity_id, scored_at from scores")
    assert gone not in {str(r["entity_id"]) for r in current} and {r["scored_at"] for r in current} == {t2}


def test_a_tenant_sees_only_its_scores(tmp_path):
    (a, b), _, path, latest = _setup(tmp_path, sizes=(10, 12))
    score_entities("lead", model=champions().get("lead_score"), warehouse=path)
    b_ids = [str(x) for x in latest.filter(pl.col("tenant_id") == b)["contact_id"]]
    assert len(_rows(a, "select 1 from scores")) == 10
    assert _rows(a, "select 1 from scores where entity_id = any(cast(:ids as uuid[]))", ids=b_ids) == []
    assert _rows(a, "select 1 from score_history where tenant_id = :b", b=b) == []
    assert _rows(a, "select 1 from analytics.features_latest where tenant_id = :b", b=b) == []
    assert len(_rows(b, "select 1 from scores")) == 12

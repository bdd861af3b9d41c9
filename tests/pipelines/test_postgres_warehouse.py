"""CRM_WAREHOUSE=postgres runs the whole pipeline without a DuckDB file: dbt builds `warehouse_*` in the
product's PostgreSQL from its own tables, the models train on `warehouse_marts` and are registered in
MLflow, batch scoring publishes scores, score_history and features_latest under RLS, the marts are
published to `analytics.*`, the insight index is built, and the notebooks' reader reads the same marts.

One module-scoped world in its own CRM_HOME (own embedded PostgreSQL): a small generated demo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from crm.db.engine import admin_engine, app_engine, tenant_session
from crm.settings import get_settings
from tests.homes import private_home

TABLES = ("scores", "score_history", "analytics.features_latest", "analytics.kpis")
# The ML tests' fast LightGBM settings (tests/ml_support.FAST): behaviour, not the last bit of AUC.
FAST = {"learning_rate": 0.1, "early_stopping_rounds": 30, "num_threads": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    from app.demo import DemoSpec, load_demo
    from pipelines.run import materialized_keys, run_pipeline
    from tests.ml_support import CACHE, install_mlflow_store

    with private_home(tmp_path_factory.mktemp("pg-warehouse-home"), env={"CRM_WAREHOUSE": "postgres"}) as home:
        install_mlflow_store(CACHE)  # a ready MLflow sqlite store instead of ~16 s of migrations
        demo = load_demo(spec=DemoSpec(tenants=2, contacts=300, months=24, name="pg-warehouse"), seed=13)
        result = run_pipeline(run_config={"ops": {name: {"config": FAST}
                                                  for name in ("lead_score_model", "churn_risk_model")}})
        yield {"home": home, "result": result, "keys": set(materialized_keys(result)),
               "tenants": [t.tenant_id for t in demo.tenants]}


def test_the_whole_pipeline_runs_on_postgres_without_a_duckdb_file(world):
    assert world["result"].success
    assert {"raw/activities", "lead_features", "account_features", "lead_score_model", "churn_risk_model",
            "lead_scores", "account_scores", "analytics/kpis", "rag_index"} <= world["keys"]
    checks = world["result"].get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)  # dbt's tests ran on the postgres target
    assert get_settings().crm_warehouse == "postgres"
    assert not (world["home"] / "warehouse.duckdb").exists()  # nothing opened (or created) the DuckDB file
    with admin_engine().connect() as conn:
        built = conn.execute(text("select count(distinct tenant_id) from warehouse_marts.lead_features")).scalar()
    assert built == 2


def test_models_are_trained_on_the_postgres_marts_and_registered(world):
    from mlflow import MlflowClient

    from serving.models import ACCOUNT_MODEL, LEAD_MODEL, champion_version

    uri = get_settings().mlflow_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in (LEAD_MODEL, ACCOUNT_MODEL):
        version = champion_version(name)
        assert version is not None, f"{name} has no champion"
        run = client.get_run(client.get_model_version(name, version).run_id)
        assert run.data.tags["lineage.warehouse"] == "postgres:warehouse_marts"


def test_scores_history_and_features_come_out_per_tenant_under_rls(world):
    a, b = world["tenants"]
    for tenant in (a, b):
        with tenant_session(tenant) as s:
            for table in TABLES:
                seen = s.execute(text(f"select count(*), count(distinct tenant_id), min(cast(tenant_id as text)) "
                                      f"from {table}")).one()
                assert seen[0] > 0 and seen[1] == 1 and seen[2] == str(tenant), (tenant, table, tuple(seen))
            kinds = {r[0] for r in s.execute(text("select distinct entity_type from scores"))}
            assert kinds == {"lead", "account"}
    with app_engine().connect() as conn:  # the app role with no tenant set sees none of it
        for table in TABLES:
            assert conn.execute(text(f"select count(*) from {table}")).scalar_one() == 0


def test_the_notebook_reader_follows_the_switch(world):
    from crm.marts import read_mart, read_score_history

    a, b = world["tenants"]
    kpis = read_mart("kpis", a)  # no backend named: CRM_WAREHOUSE=postgres
    assert kpis["tenant_id"].tolist() == [a]
    assert set(read_mart("lead_features", b, ["tenant_id"])["tenant_id"]) == {b}
    assert not read_score_history(a, "lead").empty

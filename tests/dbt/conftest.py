"""One hand-made world per test process: two tenants seeded in PostgreSQL, extracted into a private
DuckDB warehouse, and built with dbt (label dates pinned by vars so other tests' rows cannot move them)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.lib.dbt_cli import run_dbt
from tests.conftest import make_tenant
from tests.pipelines.factory import DBT_VARS, seed_activity_tenant, seed_contractual_tenant


def dbt_ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    from crm.ingest.extract import extract
    from serving.sentiment import score_all_tenants

    a, b = make_tenant("Contractual"), make_tenant("Activity")
    ids_a = seed_contractual_tenant(a["tenant_id"])
    ids_b = seed_activity_tenant(b["tenant_id"])
    score_all_tenants()
    home = tmp_path_factory.mktemp("warehouse")
    extract(home / "warehouse.duckdb")
    return {"home": home, "a": a["tenant_id"], "b": b["tenant_id"], "ids_a": ids_a, "ids_b": ids_b}


@pytest.fixture(scope="session")
def built(world):
    dbt_ok(run_dbt(["build"], "duckdb", crm_home=world["home"], vars=DBT_VARS))
    return world


@pytest.fixture
def marts(built):
    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()

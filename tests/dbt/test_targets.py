"""The same dbt project builds green on PostgreSQL too (unit tests and data tests included), and both
targets agree on the hand-made tenant's marts."""

from datetime import date

from sqlalchemy import text

from crm.db.engine import admin_engine
from pipelines.lib.dbt_cli import run_dbt
from tests.dbt.conftest import dbt_ok
from tests.pipelines.factory import DBT_VARS


def test_dbt_build_on_postgres_matches_duckdb(built, marts):
    dbt_ok(run_dbt(["build"], "postgres", vars=DBT_VARS))
    a, l1 = built["a"], built["ids_a"]["L1"]
    query = ("select as_of_date, emails_replied_90d, pricing_visits_30d, converted_90d from {schema}.lead_features "
             "where tenant_id = '{a}' and contact_id = '{l1}' order by as_of_date")
    duck = marts.execute(query.format(schema="marts", a=a, l1=l1)).fetchall()
    with admin_engine().connect() as conn:
        pg = conn.execute(text(query.format(schema="warehouse_marts", a=a, l1=l1))).all()
        kpis_pg = conn.execute(text("select new_leads_30d, open_pipeline_value, at_risk_accounts, activities_30d "
                                    "from warehouse_marts.kpis where tenant_id = :a"), {"a": a}).one()
    assert [tuple(r) for r in pg] == duck
    assert duck[2] == (date(2025, 3, 31), 1, 1, 1)
    kpis_duck = marts.execute("select new_leads_30d, open_pipeline_value, at_risk_accounts, activities_30d "
                              "from marts.kpis where tenant_id = ?", [a]).fetchone()
    assert tuple(kpis_pg) == kpis_duck

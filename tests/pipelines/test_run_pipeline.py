"""End to end in-process: `run_pipeline()` scores, extracts, builds and publishes; the published tables
are swapped in under forced RLS, so each tenant reads only its own rows through the app role."""

from sqlalchemy import text

from crm.db.engine import admin_engine, app_engine, tenant_session
from crm.ingest.publish import PUBLISHED_MARTS
from pipelines.run import materialized_keys, run_pipeline, selected_keys
from tests.pipelines.factory import seed_activity_tenant, seed_contractual_tenant


def test_run_pipeline_fills_marts_and_publishes_under_rls(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    seed_contractual_tenant(a)
    seed_activity_tenant(b)

    # this groups only: the ml / serving domains have their own tests
    result = run_pipeline("group:ingest or group:transform or group:publish")
    assert result.success
    keys = materialized_keys(result)
    assert {"text_sentiment", "raw/activities", "lead_features", "account_features", "analytics/kpis"} <= set(keys)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)  # the dbt tests ran as asset checks

    with tenant_session(a) as s:
        kpis = s.execute(text("select * from analytics.kpis")).mappings().all()
        assert [str(r["tenant_id"]) for r in kpis] == [a]  # RLS: only tenant A's row
        assert float(kpis[0]["open_pipeline_value"]) == 3000
        assert float(kpis[0]["weighted_pipeline_value"]) == 1500
        stages = s.execute(text("select stage_name, open_deals from analytics.pipeline_snapshot "
                                "order by stage_position")).all()
        assert [tuple(r) for r in stages] == [("Qualified", 0), ("Proposal", 1)]
        assert s.execute(text("select count(*) from analytics.activities_daily")).scalar_one() > 0
        tenants_seen = s.execute(text("select count(distinct tenant_id) from analytics.activities_daily")).scalar()
        assert tenants_seen == 1
        assert s.execute(text("select members_count from analytics.campaign_performance")).scalar_one() == 1
    with tenant_session(b) as s:
        assert [str(r[0]) for r in s.execute(text("select tenant_id from analytics.kpis"))] == [b]
    with app_engine().connect() as conn:  # the app role with no tenant set sees nothing
        assert conn.execute(text("select count(*) from analytics.kpis")).scalar_one() == 0
    with admin_engine().connect() as conn:
        for mart in PUBLISHED_MARTS:
            owner, forced = conn.execute(text(
                "select pg_get_userbyid(relowner), relforcerowsecurity from pg_class "
                "where oid = cast(:t as regclass)"), {"t": f"analytics.{mart}"}).one()
            assert (owner, forced) == ("crm_owner", True)


def test_selection_runs_only_what_was_asked():
    assert [k.to_user_string() for k in selected_keys('key:"analytics/kpis"')] == ["analytics/kpis"]
    assert {k.to_user_string() for k in selected_keys("group:ingest")} >= {"text_sentiment", "raw/deals"}
    result = run_pipeline("key:text_sentiment")
    assert materialized_keys(result) == ["text_sentiment"]

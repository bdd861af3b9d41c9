"""The refresher's work shows in Dagster: `live_scores` is an external asset of the serving group, and the
reporter writes runless materializations with the live metadata to the project's instance, at most once per
interval and only when something was done."""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance

from pipelines.definitions import defs
from pipelines.lib.instance import ensure_dagster_home
from pipelines.lib.live_report import LIVE_ASSET, LiveReporter
from serving.live.worker import PassReport


def _latest_metadata() -> dict | None:
    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey(LIVE_ASSET))
    if event is None:
        return None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_live_scores_is_an_external_asset_downstream_of_features_and_models():
    node = defs.resolve_asset_graph().get(AssetKey(LIVE_ASSET))
    assert node.group_name == "serving" and not node.is_materializable
    assert {k.to_user_string() for k in node.parent_keys} >= {"lead_features", "account_features",
                                                              "lead_score_model", "churn_risk_model"}


def test_reporter_writes_a_materialization_at_most_once_per_interval(tenant):
    reporter = LiveReporter(min_interval=3600)
    try:
        assert reporter.flush() is False   # nothing done, nothing reported
        reporter(PassReport("score", tenants={tenant["tenant_id"]}, claimed=4, refreshed=3, scored=2,
                            lags=[0.5, 1.5, 2.5, 3.5]))
        assert reporter.reported == 1   # the first report goes out at once
        first = _latest_metadata()
        assert first["entities_refreshed"] == 3 and first["entities_scored"] == 2 and first["tenants"] == 1
        assert first["changes_consumed"] == 4 and 1.5 <= first["lag_p50_seconds"] <= 2.5
        assert first["lag_p95_seconds"] >= first["lag_p50_seconds"]
        assert first["refresh_queue_depth"] >= 0 and first["index_queue_depth"] >= 0

        reporter(PassReport("index", tenants={tenant["tenant_id"]}, claimed=7))
        reporter(PassReport("score", tenants={"another"}, claimed=1, refreshed=1, lags=[9.0]))
        assert reporter.reported == 1 and _latest_metadata() == first   # within the interval: collected only
        assert reporter.flush() is True
        second = _latest_metadata()
        assert second["sources_indexed"] == 7 and second["entities_refreshed"] == 1
        assert second["tenants"] == 2 and second["lag_p95_seconds"] == 9.0
    finally:
        reporter.close()

"""Serving: the LanceDB passage index that insights and email drafts retrieve from, and the live scores that
`crm refresher` keeps current (an external asset: reported by the refresher, never materialized here)."""

from dagster import AssetKey, AssetSpec, Config, MaterializeResult, asset
from pydantic import Field

from serving.rag.indexer import index_all_tenants


class RagIndexConfig(Config):
    tenant_ids: list[str] = Field(default_factory=list,
                                  description="Index only these tenants (empty: every tenant)")


@asset(group_name="serving", deps=[AssetKey("landing_activities")], kinds={"lancedb", "python"},
       description="Notes, emails, call/meeting summaries and support tickets of every tenant, split into "
                   "sentences and embedded (all-MiniLM-L6-v2) into $CRM_HOME/lancedb with a full-text index; "
                   "only new or changed text is embedded, deleted sources are removed.")
def rag_index(config: RagIndexConfig) -> MaterializeResult:
    run = index_all_tenants(tenant_ids=config.tenant_ids or None)
    return MaterializeResult(metadata={
        "tenants": run.tenants, "sources": run.sources, "sources_embedded": run.embedded_sources,
        "chunks_embedded": run.embedded_chunks, "sources_relinked": run.relinked_sources,
        "sources_deleted": run.deleted_sources,
    })


# Materialized outside Dagster, by `crm refresher` (pipelines/lib/live_report.py reports each minute's work).
live_scores = AssetSpec(
    "live_scores", group_name="serving", kinds={"postgres", "python"},
    deps=[AssetKey("lead_features"), AssetKey("account_features"), AssetKey("lead_score_model"),
          AssetKey("churn_risk_model")],
    description="Scores, reasons, score_history, features_latest and text sentiment of the contacts and companies "
                "a write just touched, as of now. Triggers on the CRM tables queue each touched entity "
                "(live_refresh_queue) in the write's transaction; `crm refresher` (started by `crm serve`) wakes "
                "on NOTIFY crm_live, computes their features with the SQL compiled from the dbt marts above and "
                "scores them with the champion models. Metadata: entities refreshed, tenants, lag p50/p95 "
                "(queued to committed), queue depths.")

"""Serving: the LanceDB passage index that insights and email drafts retrieve from."""

from dagster import AssetKey, Config, MaterializeResult, asset
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

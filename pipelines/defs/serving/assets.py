"""Serving: the LanceDB passage index that insights and email drafts retrieve from."""

from dagster import AssetKey, MaterializeResult, asset

from serving.rag.indexer import index_all_tenants


@asset(group_name="serving", deps=[AssetKey("landing_activities")], kinds={"lancedb", "python"},
       description="Notes, emails, call/meeting summaries and support tickets of every tenant, chunked and "
                   "embedded (all-MiniLM-L6-v2) into $CRM_HOME/lancedb with a full-text index; only new or "
                   "changed text is embedded, deleted sources are removed.")
def rag_index() -> MaterializeResult:
    run = index_all_tenants()
    return MaterializeResult(metadata={
        "tenants": run.tenants, "sources": run.sources, "sources_embedded": run.embedded_sources,
        "chunks_embedded": run.embedded_chunks, "sources_relinked": run.relinked_sources,
        "sources_deleted": run.deleted_sources,
    })

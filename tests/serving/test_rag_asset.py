"""The rag_index Dagster asset: registered in group serving, incremental across materializations."""

from __future__ import annotations

from dagster import AssetKey

from pipelines.defs.serving.assets import RagIndexConfig, rag_index
from serving.rag.retrieve import search
from tests.serving.rag_factory import TenantData


def test_rag_index_asset_is_in_the_serving_group():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey("rag_index"))
    assert node.group_name == "serving"
    assert AssetKey("landing_activities") in node.parent_keys


def test_rag_index_asset_indexes_every_tenant_then_nothing(tenant, other_tenant):
    TenantData(tenant["tenant_id"]).note("Kickoff agreed: weekly standups with the Orbit team.")
    TenantData(other_tenant["tenant_id"]).note("Renewal is at risk because of the Orbit delays.")
    # only these two tenants: other test files in this process may have loaded large demo tenants
    config = RagIndexConfig(tenant_ids=[tenant["tenant_id"], other_tenant["tenant_id"]])
    first = rag_index(config).metadata
    assert first["tenants"] == 2 and first["sources_embedded"] == 2
    again = rag_index(config).metadata
    assert again["sources_embedded"] == 0 and again["chunks_embedded"] == 0
    assert [h.text for h in search(tenant["tenant_id"], "Orbit", mode="fts")] == [
        "Kickoff agreed: weekly standups with the Orbit team."]

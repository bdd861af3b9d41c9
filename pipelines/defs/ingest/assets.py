"""Ingest: score new text, load landing files into PostgreSQL, extract PostgreSQL into the warehouse."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, asset, multi_asset

from crm.ingest.extract import extract
from crm.ingest.landing import load_pending
from crm.ingest.tables import SOURCE_TABLES
from pipelines.defs.ingest.resources import WarehouseResource
from serving.sentiment import score_all_tenants


@asset(group_name="ingest", kinds={"python", "postgres"},
       description="VADER sentiment of new or changed notes and conversations, upserted into text_sentiment.")
def text_sentiment() -> MaterializeResult:
    run = score_all_tenants()
    return MaterializeResult(metadata={"tenants": run.tenants, "texts_scored": run.scored,
                                       "scores_removed": run.removed})


@asset(group_name="ingest", kinds={"python", "postgres"},
       description="CSV/JSONL activity files from $CRM_HOME/landing/<tenant_id>/, validated and loaded once.")
def landing_activities(context: AssetExecutionContext) -> MaterializeResult:
    results = load_pending()
    for r in results:
        context.log.info(f"{r.file}: loaded {r.loaded}, duplicates {r.duplicates}, quarantined {r.quarantined} "
                         f"{r.reasons or ''}")
    return MaterializeResult(metadata={
        "files": len(results),
        "rows_loaded": sum(r.loaded for r in results),
        "rows_duplicate": sum(r.duplicates for r in results),
        "rows_quarantined": sum(r.quarantined for r in results),
    })


RAW_KEYS = {t.name: AssetKey(["raw", t.name]) for t in SOURCE_TABLES}


@multi_asset(
    specs=[AssetSpec(key, group_name="ingest", kinds={"postgres", "duckdb"},
                     deps=[text_sentiment, landing_activities],
                     description=f"public.{name} copied incrementally into the warehouse's raw schema")
           for name, key in RAW_KEYS.items()],
    can_subset=False,
)
def raw_crm_tables(context: AssetExecutionContext, warehouse: WarehouseResource):
    """All raw tables in one DuckDB transaction: the warehouse moves from one snapshot to the next."""
    if not warehouse.uses_duckdb:
        context.log.info("warehouse is postgres: dbt's sources are the system of record's own tables, "
                         "nothing to extract")
        for key in RAW_KEYS.values():
            yield MaterializeResult(asset_key=key, metadata={"skipped": True})
        return
    result = extract(warehouse.warehouse_path())
    context.log.info(f"extracted {result.rows} rows in {result.seconds:.2f}s")
    held = {name: n for name, n in result.quarantined.items() if n}
    if held:  # one bad row no longer fails the run for every tenant: it waits in raw._quarantine instead
        context.log.warning(f"rows held back in raw._quarantine (see its reason column): {held}")
    for name, key in RAW_KEYS.items():
        yield MaterializeResult(asset_key=key, metadata={
            "rows_upserted": result.upserted.get(name, 0), "rows_deleted": result.deleted.get(name, 0),
            "rows_quarantined": result.quarantined.get(name, 0),
        })

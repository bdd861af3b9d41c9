"""`crm pipeline run [--select ...]`: materialize the Dagster assets in-process and say what ran."""

from typing import Annotated

import typer

from app.cli.output import err, fail

pipeline_app = typer.Typer(help="Run the data pipeline (Dagster assets) in-process.", no_args_is_help=True)


@pipeline_app.command("run")
def run(
    select: Annotated[str | None, typer.Option(
        "--select", help="Dagster asset selection, e.g. 'group:ingest', 'key:kpis+', '+key:\"analytics/kpis\"'"
    )] = None,
) -> None:
    """Materialize the Dagster assets in-process (all of them unless --select), behind a progress bar;
    Dagster's full event log goes to $CRM_HOME/logs/pipeline-<run_id>.log."""
    from app.cli.pipeline_progress import run_with_progress
    from crm.db.engine import name_connections
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    name_connections("pipelines")
    ensure_home()
    migrate()
    from pipelines.run import group_counts, materialized_keys

    try:
        outcome = run_with_progress(err, select)
    except ValueError as exc:
        fail(str(exc))
    except KeyboardInterrupt as exc:
        fail(str(exc) or "interrupted", code=130)
    result = outcome.result
    keys = materialized_keys(result)
    by_group = group_counts(keys)
    for group, names in by_group.items():
        shown = ", ".join(names[:6]) + (f", ... (+{len(names) - 6})" if len(names) > 6 else "")
        err.print(f"  [bold]{group}[/bold] {len(names)}: {shown}")
    checks = result.get_asset_check_evaluations()
    failed_checks = [c for c in checks if not c.passed]
    err.print(f"{len(keys)} assets materialized, {len(checks) - len(failed_checks)}/{len(checks)} checks passed "
              f"in {outcome.seconds:.1f}s (run {result.run_id}, log {outcome.log_path})")
    if not result.success or failed_checks:
        for c in failed_checks:
            err.print(f"[red]check failed:[/red] {c.asset_key.to_user_string()} {c.check_name}")
        fail(f"the pipeline run failed; its full log: {outcome.log_path} (or open the Dagster UI: make dagster)")
    err.print("Published tables: analytics.kpis, analytics.activities_daily, analytics.pipeline_snapshot, ... "
              "(PostgreSQL, RLS per tenant). Dagster UI: make dagster")

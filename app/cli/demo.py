"""`crm demo`: seed demo agencies with 24 months of history, run the pipeline, say where to look, serve."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from app.cli.output import err, fail

URL = "http://127.0.0.1:8000"


def demo(
    size: Annotated[str, typer.Option(help="small (3 agencies) | medium (20) | large (200)")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data")] = 7,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after loading and the pipeline")] = False,
) -> None:
    """Seed demo agencies with realistic CRM data and known ground truth, run the pipeline and serve."""
    from app.demo import SIZES, load_demo
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    if size not in SIZES:
        fail(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    ensure_home()
    migrate()
    result = load_demo(size, seed=seed, console=err)
    new = [t for t in result.tenants if not t.skipped]
    err.print(f"{len(new)} demo agencies loaded ({result.rows:,} rows) in {result.seconds:.1f}s; "
              f"{len(result.tenants) - len(new)} already present and left as they were.")
    _run_pipeline()
    _print_where_to_look(result)
    if not no_serve:
        from app.cli.serve import serve

        serve()


def _run_pipeline() -> None:
    try:
        from pipelines.run import materialized_keys, run_pipeline
    except ImportError as exc:
        err.print(f"[yellow]The data pipeline is not available ({exc}); the CRM data is loaded, "
                  "scores and dashboards' analytics will be empty until `crm pipeline run` works.[/yellow]")
        return
    err.print("Running the data pipeline (extract, dbt, features, models, scores) ...")
    started = time.perf_counter()
    result = run_pipeline(raise_on_error=False)
    keys = materialized_keys(result)
    if result.success:
        err.print(f"pipeline: {len(keys)} assets materialized in {time.perf_counter() - started:.0f}s")
    else:
        err.print(f"[red]pipeline run {result.run_id} failed[/red] after {len(keys)} assets; the CRM data is "
                  "loaded. See the Dagster UI for the failing step and rerun with `crm pipeline run`.")


def _print_where_to_look(result) -> None:
    from crm.settings import get_settings

    settings = get_settings()
    lines = [f"\nDemo agencies (every demo login's password: {result.tenants[0].admin_password})"]
    for t in result.tenants[:10]:
        staff = [u["email"] for u in t.users if u["role"] != "admin"]
        lines += [f"  {t.name}  ({t.churn_mode} churn, tenant {t.tenant_id})",
                  f"    admin login   {t.admin_email}",
                  f"    admin API key {t.api_key}"]
        if staff:
            lines.append(f"    staff logins  {', '.join(staff[:3])}{' ...' if len(staff) > 3 else ''}")
    if len(result.tenants) > 10:
        lines.append(f"  ... and {len(result.tenants) - 10} more agencies (see the credentials file)")
    lines += [
        "",
        "Where to look",
        f"  dashboard     {URL}  (log in with an admin login above)",
        f"  API           curl -H 'Authorization: Bearer <admin API key>' {URL}/api/v1/contacts",
        f"  API docs      {URL}/docs",
        f"  credentials   {result.credentials_path}",
        f"  ground truth  {result.ground_truth_dir}/{{leads,accounts,facts}}.parquet (for evaluation only)",
        "Next",
        "  crm pipeline run        rerun the data pipeline",
        f"  Dagster UI    DAGSTER_HOME={settings.dagster_home} .venv/bin/dagster dev -m pipelines.definitions",
        f"  MLflow UI     .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_uri} --workers 1",
    ]
    err.print("\n".join(lines), soft_wrap=True, highlight=False, markup=False)

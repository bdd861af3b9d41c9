"""`crm demo`: serve first, then seed demo agencies with 24 months of history and run the pipeline behind a
progress bar, say where to look, and keep serving until Ctrl-C.

The server starts before anything loads, so the dashboard answers within seconds and the first agency's
login works as soon as it is in; the insight index is left to the server's live refresher, which embeds
the queued notes and activities in the background. `--no-serve` loads, runs the whole pipeline (index
included) and exits.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from app.cli.output import err, fail

# the insight index is the live refresher's job while serving (its index lane drains live_index_queue)
SERVING_SELECTION = "not key:rag_index"


def demo(
    size: Annotated[str, typer.Option(help="tiny (2 agencies) | small (3) | medium (20) | large (200)")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data")] = 7,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load and run the whole pipeline, then exit")] = False,
    host: Annotated[str, typer.Option(help="Interface the server binds")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the server listens on")] = 8000,
) -> None:
    """Seed demo agencies with realistic CRM data and known ground truth, run the pipeline and serve."""
    from app.cli.child_server import ChildServer, ServerDidNotStart
    from app.demo import SIZES
    from crm.db.embedded import stop_on_sigterm
    from crm.db.migrate import migrate
    from crm.setup_status import write_setup_status
    from crm.state import ensure_home

    if size not in SIZES:
        fail(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    started = time.perf_counter()
    stop_on_sigterm()  # a terminated demo stops its server and detaches from PostgreSQL
    ensure_home()
    migrate()
    write_setup_status("loading", "loading agencies", 0, SIZES[size].tenants, "agencies")
    server = None if no_serve else ChildServer(host, port)
    try:
        if server is not None:
            try:
                server.start()
            except ServerDidNotStart as exc:
                fail(str(exc))
            err.print(f"Serving on {server.url} after {time.perf_counter() - started:.0f}s (log: {server.log_path}); "
                      "setting up the demo now, the dashboard says how far it is.", soft_wrap=True)
        result = _load(size, seed, server.url if server else None)
        ok = _run_pipeline(None if no_serve else SERVING_SELECTION)
        # Dagster's in-process run leaves SIGTERM mapped to SIGINT's handler, which a background job ignores:
        # a supervisor's SIGTERM must still stop the demo and its server
        stop_on_sigterm()
        write_setup_status("ready" if ok else "failed", "running the data pipeline")
        _print_where_to_look(result, server.url if server else "http://127.0.0.1:8000", serving=server is not None)
        if server is not None:
            err.print(f"Set up in {time.perf_counter() - started:.0f}s. Serving on {server.url} until Ctrl-C.")
            server.wait()
    except KeyboardInterrupt as exc:
        err.print(f"{exc}; stopping." if str(exc) else "Stopping.", highlight=False)
    finally:
        if server is not None:
            server.stop()


def _load(size: str, seed: int, url: str | None):
    from app.demo import load_demo
    from crm.setup_status import write_setup_status

    def announce(tenant, done: int, total: int) -> None:
        write_setup_status("loading", "loading agencies", done, total, "agencies")
        if done == 1 and url:
            err.print(f"First agency ready: log in at {url} as {tenant.admin_email} / {tenant.admin_password} "
                      f"(API key {tenant.api_key}); the others are loading.", highlight=False, soft_wrap=True)

    result = load_demo(size, seed=seed, console=err, on_tenant=announce)
    new = [t for t in result.tenants if not t.skipped]
    err.print(f"{len(new)} demo agencies loaded ({result.rows:,} rows) in {result.seconds:.1f}s; "
              f"{len(result.tenants) - len(new)} already present and left as they were.")
    return result


def _run_pipeline(select: str | None) -> bool:
    try:
        from app.cli.pipeline_progress import group_words, run_with_progress
    except ImportError as exc:
        err.print(f"[yellow]The data pipeline is not available ({exc}); the CRM data is loaded, "
                  "scores and dashboards' analytics will be empty until `crm pipeline run` works.[/yellow]")
        return False
    from crm.setup_status import write_setup_status

    def status(p) -> None:
        write_setup_status("pipeline", group_words(p.current_group), len(p.done), p.total, "assets")

    err.print("Running the data pipeline (extract, dbt, features, models, scores) ...")
    outcome = run_with_progress(err, select, on_progress=status)
    if outcome.success:
        err.print(f"pipeline: {len(outcome.result.get_asset_materialization_events())} assets materialized "
                  f"in {outcome.seconds:.0f}s (log: {outcome.log_path})")
    else:
        err.print(f"[red]pipeline run {outcome.result.run_id} failed[/red] after {outcome.seconds:.0f}s; the CRM data "
                  f"is loaded. Full log: {outcome.log_path}. Rerun with `crm pipeline run`.")
    return outcome.success


def _print_where_to_look(result, url: str = "http://127.0.0.1:8000", serving: bool = False) -> None:
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
        f"  dashboard     {url}  (log in with an admin login above)",
        f"  API           curl -H 'Authorization: Bearer <admin API key>' {url}/api/v1/contacts",
        f"  API docs      {url}/docs",
        f"  credentials   {result.credentials_path}",
        f"  ground truth  {result.ground_truth_dir}/{{leads,accounts,facts}}.parquet (for evaluation only)",
        f"  logs          {settings.home / 'logs'} (pipeline runs, the server)",
    ]
    if serving:
        lines.append("  insights      the insight index fills in the background (progress on the Insights page)")
    lines += [
        "Next",
        "  crm pipeline run        rerun the data pipeline",
        f"  Dagster UI    DAGSTER_HOME={settings.dagster_home} .venv/bin/dagster dev -m pipelines.definitions",
        f"  MLflow UI     .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_uri} --workers 1",
    ]
    err.print("\n".join(lines), soft_wrap=True, highlight=False, markup=False)

"""Benchmark: ingest + dbt build on the small and medium demo, with dbt's overhead measured in the same run.

For each size, in a fresh CRM_HOME (own embedded PostgreSQL and warehouse):
  load the demo -> score sentiment -> extract (full, then a no-change incremental run) -> `dbt run`
  -> the same compiled SQL executed straight in DuckDB, model by model in dependency order
  -> `dbt build` (models + tests + unit tests) -> publish
  -> the orchestrated run and its baseline, on the same data: the same four steps once more called directly
     (sentiment, extract, dbt build, publish), then the same selection run through Dagster
     (`run_pipeline("group:ingest or group:transform or group:publish")`, the project's instance).
Prints wall time and rows/s per step, dbt's overhead ratio = `dbt run` wall time / straight SQL time, and
Dagster's = the orchestrated run / the same steps called directly (wall and CPU, dbt's processes included).

    .venv/bin/python bench/pipeline.py [--sizes small medium] [--root /tmp/crm-bench]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "true")


def fresh_home(path: Path) -> None:
    from crm.db.embedded import embedded_server
    from crm.settings import reset_settings

    if embedded_server.cache_info().currsize:
        with contextlib.suppress(Exception):  # a server already stopped is fine
            embedded_server().cleanup()
    shutil.rmtree(path, ignore_errors=True)
    os.environ["CRM_HOME"] = str(path)
    reset_settings()
    embedded_server.cache_clear()
    from crm.db.migrate import migrate
    from crm.state import ensure_home

    ensure_home()
    migrate()


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU of this process and of its waited-for children (the dbt processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def direct_steps() -> None:
    """What the ingest, transform and publish groups do, called without Dagster."""
    from crm.ingest.extract import extract
    from crm.ingest.publish import PUBLISHED_MARTS, publish
    from pipelines.lib.dbt_cli import run_dbt
    from serving.sentiment import score_all_tenants

    score_all_tenants()
    extract()
    proc = run_dbt(["build"], "duckdb")
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{proc.stdout[-3000:]}")
    for mart in PUBLISHED_MARTS:
        publish(mart)


def orchestrated() -> None:
    from pipelines.run import run_pipeline

    if not run_pipeline("group:ingest or group:transform or group:publish").success:
        raise SystemExit("the Dagster run failed")


def wall_and_cpu(fn) -> tuple[float, float]:
    cpu = cpu_seconds()
    _, wall = timed(fn)
    return wall, cpu_seconds() - cpu


def topo_models(manifest: dict) -> list[dict]:
    nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    done: set[str] = set()
    order: list[dict] = []

    def visit(key: str) -> None:
        if key in done:
            return
        done.add(key)
        for dep in nodes[key]["depends_on"]["nodes"]:
            if dep in nodes:
                visit(dep)
        order.append(nodes[key])

    for key in sorted(nodes):
        visit(key)
    return order


def straight_sql(manifest: dict, warehouse: Path) -> float:
    """Execute dbt's compiled SQL directly in DuckDB, as dbt would materialize it, without dbt."""
    from crm.warehouse import writer

    models = topo_models(manifest)
    with writer(warehouse) as con:
        started = time.perf_counter()
        for node in models:
            relation = node["relation_name"]
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            con.execute(f"create schema if not exists {node['schema']}")
            con.execute(f"create or replace {kind} {relation} as {node['compiled_code']}")
        return time.perf_counter() - started


def bench_size(size: str, root: Path) -> dict:
    from rich.console import Console

    from app.demo import load_demo
    from crm.ingest.extract import extract
    from crm.ingest.publish import PUBLISHED_MARTS, publish
    from crm.settings import get_settings
    from pipelines.lib.dbt_cli import run_dbt
    from serving.sentiment import score_all_tenants

    home = root / size
    fresh_home(home)
    out: dict = {"size": size}
    _, out["demo_load_s"] = timed(load_demo, size, console=Console(stderr=True, quiet=True))
    sentiment, out["sentiment_s"] = timed(score_all_tenants)
    out["texts_scored"] = sentiment.scored
    result, out["extract_s"] = timed(extract)
    out["rows_extracted"] = result.rows
    # nothing changed since: with the default 10-minute overlap every just-loaded row is re-read, so the
    # steady-state hourly cost is measured without overlap
    _, out["extract_again_s"] = timed(extract, lookback=timedelta(0))

    warehouse = get_settings().warehouse_path
    target = Path(tempfile.mkdtemp(prefix="crm-bench-dbt-"))
    proc, out["dbt_run_s"] = timed(run_dbt, ["run"], "duckdb", target_path=target)
    if proc.returncode != 0:
        raise SystemExit(f"dbt run failed:\n{proc.stdout[-3000:]}")
    results = json.loads((target / "run_results.json").read_text())
    out["dbt_run_model_s"] = sum(r["execution_time"] for r in results["results"])
    out["dbt_run_exec_s"] = results["elapsed_time"]  # dbt's execution phase, without start-up and parsing
    manifest = json.loads((target / "manifest.json").read_text())
    out["straight_sql_s"] = straight_sql(manifest, warehouse)
    proc, out["dbt_build_s"] = timed(run_dbt, ["build"], "duckdb")
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{proc.stdout[-3000:]}")
    started = time.perf_counter()
    for mart in PUBLISHED_MARTS:
        publish(mart)
    out["publish_s"] = time.perf_counter() - started
    from crm.warehouse import mart_table, query

    for mart in ("lead_features", "account_features"):
        rows = query(f"select count(*) as n from {mart_table(mart, path=warehouse)}", path=warehouse)
        out[f"{mart.removesuffix('_features')}_feature_rows"] = rows.column("n")[0].as_py()
    out["ingest_build_s"] = out["sentiment_s"] + out["extract_s"] + out["dbt_build_s"]
    import pipelines.definitions  # noqa: F401  (imported before the clock: a process imports it once)

    out["direct_s"], out["direct_cpu_s"] = wall_and_cpu(direct_steps)
    out["dagster_s"], out["dagster_cpu_s"] = wall_and_cpu(orchestrated)
    return out


def report(rows: list[dict]) -> None:
    print()
    print(f"{'size':8} {'rows':>9} {'extract s':>9} {'rows/s':>9} {'incr s':>7} {'dbt run s':>9} "
          f"{'SQL s':>7} {'overhead':>8} {'build s':>8} {'ingest+build s':>14} {'rows/s':>8} {'publish s':>9}")
    for r in rows:
        print(f"{r['size']:8} {r['rows_extracted']:>9,} {r['extract_s']:>9.2f} "
              f"{r['rows_extracted'] / r['extract_s']:>9,.0f} {r['extract_again_s']:>7.2f} {r['dbt_run_s']:>9.2f} "
              f"{r['straight_sql_s']:>7.2f} {r['dbt_run_s'] / r['straight_sql_s']:>7.1f}x {r['dbt_build_s']:>8.2f} "
              f"{r['ingest_build_s']:>14.2f} {r['rows_extracted'] / r['ingest_build_s']:>8,.0f} "
              f"{r['publish_s']:>9.2f}")
    for r in rows:
        print(f"{r['size']}: demo load {r['demo_load_s']:.1f}s, {r['texts_scored']:,} texts scored in "
              f"{r['sentiment_s']:.1f}s, dbt execution phase {r.get('dbt_run_exec_s', 0):.2f}s "
              f"(sum of model times {r['dbt_run_model_s']:.2f}s), "
              f"{r['lead_feature_rows']:,} lead_features rows, {r['account_feature_rows']:,} account_features rows")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        def grew(key: str) -> str:
            return f"x{b[key] / a[key]:.1f}"

        print(f"{b['size']} vs {a['size']}: rows {grew('rows_extracted')}, extract {grew('extract_s')}, "
              f"straight SQL {grew('straight_sql_s')}, dbt run {grew('dbt_run_s')}, dbt build {grew('dbt_build_s')}, "
              f"ingest+build {grew('ingest_build_s')}")
    print("overhead = `dbt run` wall time / the same compiled SQL run straight in DuckDB (same run, same data)")
    for r in rows:
        print(f"{r['size']}: ingest + transform + publish through Dagster {r['dagster_s']:.1f}s wall, "
              f"{r['dagster_cpu_s']:.1f}s CPU; the same steps called directly {r['direct_s']:.1f}s wall, "
              f"{r['direct_cpu_s']:.1f}s CPU; Dagster's overhead x{r['dagster_s'] / r['direct_s']:.2f} wall, "
              f"x{r['dagster_cpu_s'] / r['direct_cpu_s']:.2f} CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["small", "medium"])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "crm-bench-pipeline")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        print(f"[{size}] loading the demo and running the pipeline steps ...", file=sys.stderr, flush=True)
        rows.append(bench_size(size, args.root))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report(rows)


if __name__ == "__main__":
    main()

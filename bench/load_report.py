"""How bench/load.py prints its parts and the summary block (README-ready lines)."""

from __future__ import annotations

import os
from pathlib import Path

import bench_servers as srv
from open_loop import Figures, error_kinds, percentile

_TABLE = (f"{'endpoint':<48}{'conns':>6}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>9}{'x bare':>8}{'p99/bare':>9}"
          f"{'non-2xx':>8}{'CPU ms/req':>11}")


def part(title: str) -> None:
    print(f"\n== {title}\n   load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)


def table_header() -> None:
    print(_TABLE + "\n" + "-" * len(_TABLE), flush=True)


def table_row(name: str, conns: int, r: dict, bare: dict, baseline: str = "") -> dict:
    """One row of the table, its ratios to `bare` (the run of its baseline endpoint, named `baseline`)."""
    ratio, p99_ratio = r["rps"] / bare["rps"], r["p99"] / bare["p99"]
    errors = r["non_2xx"] + r["socket_errors"]
    print(f"{name:<48}{conns:>6}{r['rps']:>8.0f}{r['p50']:>8.1f}{r['p99']:>9.1f}{ratio:>7.2f}x{p99_ratio:>8.1f}x"
          f"{errors:>8}{r['cpu_ms']:>11.2f}", flush=True)
    return {"endpoint": name, "conns": conns, "rps": r["rps"], "p50": r["p50"], "p99": r["p99"], "ratio": ratio,
            "p99_ratio": p99_ratio, "errors": errors, "cpu_ms": r["cpu_ms"], "baseline": baseline or name}


def server_limits(server_pid: int, connections: int) -> None:
    """The open-file limit of the server's processes: each kept-alive connection holds one."""
    limits = set()
    for pid in srv.descendants(server_pid):
        try:
            line = next(x for x in Path(f"/proc/{pid}/limits").read_text().splitlines()
                        if x.startswith("Max open files"))
            limits.add(int(line.split()[3]))
        except (OSError, StopIteration, ValueError):
            continue
    low = min(limits) if limits else 0
    warn = "" if low > connections + 1000 else f"  (below {connections:,} connections + margin: expect failures)"
    print(f"server processes' open-file limit (soft): {low:,}{warn}", flush=True)


def crowd(fig: Figures, seconds: float, cpu: srv.CpuSample, label: str, generator_cores: float) -> dict:
    answered = sum(fig.statuses.values())
    ok = sum(n for c, n in fig.statuses.items() if 200 <= c < 300)
    n = max(fig.scheduled, 1)
    lat = fig.latencies_ms
    held = fig.held or [0]
    out = {"label": label, "offered": fig.scheduled / seconds, "served": ok / seconds, "served_share": ok / n,
           "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
           "max": max(lat, default=float("nan")), "errors": error_kinds(fig), "opened": fig.opened,
           "held_min": min(held), "held_mean": sum(held) / len(held), "reconnects": fig.reconnects,
           "cpu_ms": (cpu.app + cpu.postgres) * 1000 / max(answered, 1),
           "refresher_ms": cpu.refresher * 1000 / max(answered, 1), "lag_p99": percentile(fig.lag_ms, 99),
           "cpu_ms_2xx": (cpu.app + cpu.postgres) * 1000 / max(ok, 1), "generator_cores": generator_cores}
    print(f"  offered {out['offered']:,.0f} req/s, served (2xx) {out['served']:,.0f} req/s = "
          f"{out['served_share']:.1%} of {fig.scheduled:,} requests\n"
          f"  latency from the scheduled instant: p50 {out['p50']:,.0f} ms, p95 {out['p95']:,.0f} ms, "
          f"p99 {out['p99']:,.0f} ms, max {out['max']:,.0f} ms\n"
          f"  errors: {', '.join(f'{k} {v:,}' for k, v in out['errors'].items())}\n"
          f"  connections: {fig.opened:,} opened, held during the window min {out['held_min']:,} / mean "
          f"{out['held_mean']:,.0f}; reopened after the server closed them: {fig.reconnects:,}\n"
          f"  server CPU per answered request (window start to last answer): {out['cpu_ms']:.2f} ms "
          "(app + PostgreSQL)"
          + (f", refresher {out['refresher_ms']:.2f} ms" if cpu.refresher else "")
          + f"; per 2xx answer {out['cpu_ms_2xx']:.2f} ms\n"
          f"  the generator: {generator_cores:.2f} cores on average from connecting to its last answer, its own lag "
          f"p99 {out['lag_p99']:,.0f} ms", flush=True)
    if cpu.parts:
        out["cores_by_part"] = cpu.cores()
        print("  the server's cores by part over the window: "
              + ", ".join(f"{k} {v:.2f}" for k, v in out["cores_by_part"].items() if v >= 0.005), flush=True)
    kinds = "  p95 by kind (2xx): " + ", ".join(f"{k} {percentile(v, 95):,.0f} ms ({len(v):,})"
                                                for k, v in sorted(fig.by_kind.items()))
    print(kinds, flush=True)
    return out


def kind_row(kind: str, fig: Figures, cpu: srv.CpuSample, drained: srv.CpuSample) -> dict:
    """One kind's figures. `cpu` spans the load's window; `drained` runs on from its start until the live
    queues were worked off, so it holds what the kind's writes set off in the refresher and the workflow worker."""
    ok = max(sum(n for c, n in fig.statuses.items() if 200 <= c < 300), 1)
    others = {c: n for c, n in fig.statuses.items() if not 200 <= c < 300}
    row = {"kind": kind, "ok": ok, "p50": percentile(fig.latencies_ms, 50), "p95": percentile(fig.latencies_ms, 95),
           "app_ms": cpu.app * 1000 / ok, "postgres_ms": cpu.postgres * 1000 / ok,
           "refresher_ms": drained.refresher * 1000 / ok,
           "by_part_ms": {k: v * 1000 / ok for k, v in sorted(drained.parts.items(), key=lambda kv: -kv[1])}}
    row["total_ms"] = row["app_ms"] + row["postgres_ms"] + row["refresher_ms"]
    print(f"  {kind:<18} {ok:>6,} x 2xx  p50 {row['p50']:>6,.1f} ms  p95 {row['p95']:>6,.1f} ms  CPU/req: app "
          f"{row['app_ms']:.2f} + PostgreSQL {row['postgres_ms']:.2f} + refresher {row['refresher_ms']:.2f} = "
          f"{row['total_ms']:.2f} ms" + (f"  other answers {others}" if others else "")
          + (f"  errors {dict(fig.errors)}" if sum(fig.errors.values()) else ""), flush=True)
    print("  " + " " * 18 + " until the queues were worked off, ms per 2xx by part: "
          + ", ".join(f"{k} {v:.2f}" for k, v in row["by_part_ms"].items() if v >= 0.005), flush=True)
    return row


def fair(idle: Figures, loaded: Figures, flood: dict, control: Figures, control_flood: dict) -> dict:
    b_idle, b_loaded = percentile(idle.latencies_ms, 95), percentile(loaded.latencies_ms, 95)
    b_control = percentile(control.latencies_ms, 95)
    out = {"b_idle_p95": b_idle, "b_flood_p95": b_loaded, "ratio": b_loaded / b_idle,
           "b_control_p95": b_control, "control_ratio": b_control / b_idle,
           "b_errors": error_kinds(loaded), "a_rps": flood["rps"], "a_statuses": flood["statuses"],
           "a_429": flood["statuses"].get(429, 0), "a_requests": flood["requests"],
           "flooder_cores": flood["flooder_cores"], "server_cores": flood["server_cores"],
           "control_flooder_cores": control_flood["flooder_cores"], "control_rps": control_flood["rps"]}
    print(f"  B p95 idle {b_idle:,.0f} ms, under A's flood of the CRM {b_loaded:,.0f} ms ({out['ratio']:.2f}x); "
          f"while the same flood hits the bare app instead {b_control:,.0f} ms ({out['control_ratio']:.2f}x)\n"
          f"  B errors under flood: {', '.join(f'{k} {v:,}' for k, v in out['b_errors'].items())}\n"
          f"  A sent {flood['requests']:,} requests ({flood['rps']:,.0f} req/s): "
          + ", ".join(f"{code} x {n:,}" for code, n in sorted(flood["statuses"].items()))
          + f"\n  the flooder (wrk) used {out['flooder_cores']:.2f} cores, the CRM (app + PostgreSQL) "
          f"{out['server_cores']:.2f} cores; against the bare app the flooder used {out['control_flooder_cores']:.2f} "
          f"cores at {out['control_rps']:,.0f} req/s", flush=True)
    return out


def shed(refused: Figures, refusal_cpu: float, bare: Figures, bare_cpu: float) -> dict:
    refusals = refused.statuses.get(503, 0)
    answered = sum(n for c, n in bare.statuses.items() if 200 <= c < 300)
    out = {"refusals": refusals, "others": sum(refused.statuses.values()) - refusals,
           "refusal_ms": refusal_cpu * 1000 / max(refusals, 1), "bare_ms": bare_cpu * 1000 / max(answered, 1),
           "bare_answered": answered, "refused_p95": percentile(refused.latencies_ms, 95)}
    print(f"  the CRM: {refusals:,} reads refused 503 ({out['others']:,} other answers), "
          f"p95 {out['refused_p95']:,.0f} ms; its worker's CPU {out['refusal_ms']:.3f} ms per refusal\n"
          f"  the bare app: {answered:,} reads answered 200; its worker's CPU {out['bare_ms']:.3f} ms per answer "
          f"(the refusal costs {out['refusal_ms'] / max(out['bare_ms'], 1e-9):.2f}x a bare answer)", flush=True)
    return out


def summary(results: dict, machine: str) -> None:
    lines = [f"Machine: {machine} (after the run); `crm serve --workers {results['workers']}`, load generators on "
             "the same cores."]
    for row in results.get("table", []):
        vs = "" if row["baseline"] == row["endpoint"] else f" vs {row['baseline']}"
        lines.append(f"- {row['endpoint']} @ {row['conns']} conns: {row['rps']:,.0f} req/s ({row['ratio']:.2f}x bare),"
                     f" p99 {row['p99']:,.0f} ms ({row['p99_ratio']:.1f}x bare), {row['cpu_ms']:.2f} ms CPU/req{vs}")
    if kinds := results.get("kinds"):
        from load_mix import MIX

        mixed = sum(MIX[r["kind"]] * r["total_ms"] for r in kinds)
        lines.append("- Kinds alone, CPU per request (app + PostgreSQL + refresher): " + ", ".join(
            f"{r['kind']} {r['total_ms']:.2f} ms" for r in kinds) + f"; the crowd's mix weighs {mixed:.2f} ms")
    for key in ("crowd_bare", "crowd"):
        if c := results.get(key):
            errors = sum(c["errors"].values())
            lines.append(f"- Crowd vs {c['label']}: {c['opened']:,} connections, {c['offered']:,.0f} req/s offered, "
                         f"{c['served_share']:.1%} served, p50 {c['p50']:,.0f} ms, p95 {c['p95']:,.0f} ms, "
                         f"p99 {c['p99']:,.0f} ms, {errors:,} errors, {c['cpu_ms']:.2f} ms CPU/req "
                         f"({c['cpu_ms_2xx']:.2f} per 2xx), generator {c['generator_cores']:.2f} cores")
    if f := results.get("fair"):
        lines.append(f"- Fair share: B p95 idle {f['b_idle_p95']:,.0f} ms, under A's flood {f['b_flood_p95']:,.0f} ms "
                     f"({f['ratio']:.2f}x; {f['b_control_p95']:,.0f} ms = {f['control_ratio']:.2f}x while the same "
                     f"flood hits the bare app); A answered 429 {f['a_429']:,} of {f['a_requests']:,} times; the "
                     f"flooder used {f['flooder_cores']:.2f} of the 2 cores")
    if sh := results.get("shed"):
        lines.append(f"- Shed: a refusal of the in-flight bound costs the worker {sh['refusal_ms']:.3f} ms of CPU, "
                     f"a bare app's answer {sh['bare_ms']:.3f} ms ({sh['refusals']:,} refusals, "
                     f"{sh['bare_answered']:,} bare answers)")
    print("\n== summary\n" + "\n".join(lines), flush=True)

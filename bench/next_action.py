"""Benchmark: the next best action (serving.next_action.recommend) over every account and a sample of leads.

In a CRM_HOME holding the demo and a pipeline run (its own by default: load the demo -> run the pipeline), for
each agency: recommend for every customer company and for up to --contacts contacts, each in its own tenant
transaction, and time it beside the baseline of reading the same entity's published score
(crm.scores.current) in its own transaction: both include opening the transaction, so the ratio is what the
recommendation costs on top of the cheapest read of the same entity. Printed: p50 / p95 of both and the ratio
(the machine is shared: read the ratio, not the absolutes), the kinds chosen, how many reasons each has, and
that every cited record exists in the agency. Nothing is asserted.

    [NEXT_ACTION_CONTACTS=300] .venv/bin/python bench/next_action.py [--size small|medium] [--home DIR] [--keep]
        [--reuse]
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from bench_io import demo_bench_main

CONTACTS = int(os.environ.get("NEXT_ACTION_CONTACTS", "300"))
TABLES = {"task": "tasks", "note": "notes", "activity": "activities", "deal": "deals", "contact": "contacts",
          "company": "companies"}


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _cited_exists(session, reason) -> bool:
    from sqlalchemy import text

    if reason.source_type == "score":
        sql = "select 1 from scores where entity_id = :i"
    else:
        sql = f"select 1 from {TABLES[reason.source_type]} where id = :i"
    return session.execute(text(sql), {"i": reason.source_id}).first() is not None


def run(size: str, home: Path, reuse: bool) -> None:
    from sqlalchemy import text

    from crm import scores
    from crm.db.engine import tenant_session
    from crm.tenancy import all_tenant_ids
    from serving.next_action import recommend

    if not reuse:
        from churn_baselines import load_and_run

        load_and_run(size, home)
    print(f"next action bench, {size} demo, CRM_HOME={home}, up to {CONTACTS} contacts per agency", flush=True)
    took: dict[str, list[float]] = {"company": [], "contact": []}
    base: dict[str, list[float]] = {"company": [], "contact": []}
    kinds: dict[str, Counter] = {"company": Counter(), "contact": Counter()}
    reasons, missing, cited = [], 0, 0
    for tenant_id in all_tenant_ids():
        with tenant_session(tenant_id) as s:
            companies = [r.id for r in s.execute(text("select id from companies where lifecycle = 'customer' "
                                                      "order by id"))]
            contacts = [r.id for r in s.execute(text("select id from contacts order by id limit :n"),
                                                {"n": CONTACTS})]
        for entity_type, ids in (("company", companies), ("contact", contacts)):
            score_type = "account" if entity_type == "company" else "lead"
            for entity_id in ids:
                with tenant_session(tenant_id) as s:
                    seconds, rec = _timed(lambda s=s, e=entity_id, t=entity_type: recommend(s, t, e))
                    missing += sum(not _cited_exists(s, r) for r in rec.reasons)
                    cited += len(rec.reasons)
                took[entity_type].append(seconds)
                kinds[entity_type][rec.kind] += 1
                reasons.append(len(rec.reasons))
                start = time.perf_counter()
                with tenant_session(tenant_id) as s:
                    scores.current(s, score_type, entity_id)
                base[entity_type].append(time.perf_counter() - start)
    print(f"\n{'entity':9}{'n':>6}{'recommend p50':>15}{'p95':>9}{'score read p50':>16}{'p95':>9}{'ratio p50':>11}")
    for entity_type in took:
        t, b = np.array(took[entity_type]) * 1000, np.array(base[entity_type]) * 1000
        if not len(t):
            continue
        print(f"{entity_type:9}{len(t):>6}{np.median(t):>13.1f}ms{np.percentile(t, 95):>7.1f}ms"
              f"{np.median(b):>14.1f}ms{np.percentile(b, 95):>7.1f}ms{np.median(t) / np.median(b):>10.1f}x")
    for entity_type, counter in kinds.items():
        total = sum(counter.values()) or 1
        print(f"{entity_type} kinds: " + ", ".join(f"{k} {n} ({n / total:.0%})" for k, n in counter.most_common()))
    print(f"reasons per recommendation: mean {np.mean(reasons):.2f}, min {min(reasons)}, max {max(reasons)}; "
          f"cited records missing from the agency: {missing} of {cited}")


def main() -> None:
    demo_bench_main(__doc__.splitlines()[0], "crm-bench-next-action", run)


if __name__ == "__main__":
    sys.exit(main())

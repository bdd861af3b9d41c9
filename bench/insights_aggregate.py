"""Aggregate questions on the demo's planted facts: does the insights agent name every matching company, only
those, and cite only texts that say it? Called by bench/rag_eval.py after the single-fact figures.

The question set is built from ground_truth/facts.parquet (what the generator planted, and where): per agency,
"Which companies mentioned <competitor>?" and "Which companies raised the objection that <objection>?" for every
value planted at two or more companies, "How many companies mentioned <competitor>?", and mixed questions
"Which at-risk customers mentioned <competitor>?" whose truth is the planted set within the accounts whose
published churn probability is at least 0.5. Category questions name a theme, not a value ("Which companies
mentioned a competitor or an alternative to us?", "... raised concerns about price?", "hot leads that mentioned a
competitor"): their truth is every company (or contact, for leads) where the planted facts of that theme were
stated (CATEGORIES maps the planted values to themes; hot leads: the contacts of those texts whose lead tier is A).
Off-topic questions must cite nothing. The agent reads none of
this: it answers from the agency's texts and records as any agency's would be.

Reported: named-entity recall and precision (macro over questions), citation precision (a citation is right
when its text is one the truth lists for that question's value), citations on off-topic questions, p50/p95
latency of the whole answer; and, as the baseline in the same run, the single-record answer the API gave
before (serving/insights.py) on the same questions: which of the true companies it names, and its latency.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

OFF_TOPIC = ("What is the capital of France?", "Who won the 1998 football World Cup?",
             "How do I bake sourdough bread at home?", "Which companies mentioned the moon landing?",
             "What is the boiling point of water at sea level?", "Which clients asked about quantum chromodynamics?",
             "Recommend a good science fiction novel.", "What will the weather be in Lisbon tomorrow?",
             # a concern theme's word in an off-topic question (probes the theme fallback of find_mentions)
             "Which companies mentioned the price of gold?", "Which companies said the football results were bad?")
AT_RISK_PROBABILITY = 0.5   # the product's "at risk" (home page, insights agent)
# The same objections asked in other words (written for this bench): they go through the semantic path, and
# are reported on their own line, outside the goal figures.
PARAPHRASED = {"the price is above what they planned": "Which companies said we are too expensive?",
               "they worry about a 12-month contract": "Which companies are worried about a long contract?",
               "their CEO has to sign off": "Which companies need approval from their chief executive?",
               "they want month-to-month terms": "Which companies asked for a monthly rolling agreement?",
               "their budget is frozen until the new fiscal year":
                   "Which companies have no money to spend until the next financial year?"}

# Category questions -> the planted facts that answer them: every competitor value, and the objections that state
# the theme (doing it in-house is the alternative to an agency; the generator plants "an in-house hire" as a
# competitor too). The agent reads none of this: it answers through serving/concerns.py.
# Price and timing ("category+") are reported apart, outside the goals: the demo's texts also state price and
# timing concerns that are no planted fact (complaints such as "invoices do not match the scope", "the cost per lead
# went up", "paid search is not a priority right now"), so the planted truth is a subset and precision against it
# is a floor, not a measure.
CATEGORIES = {
    "a competitor or an alternative to us": (True, ("they think they can do it in-house",)),
    "contract terms": (False, ("they worry about a 12-month contract", "they want month-to-month terms")),
    "sign-off": (False, ("their CEO has to sign off",)),
    "price": (False, ("the price is above what they planned", "their budget is frozen until the new fiscal year")),
    "timing": (False, ("timing: they want to wait until next quarter",)),
}
PARTIAL_TRUTH = ("price", "timing")


def category_questions(facts, tenant: str, contacts_of: dict[str, str], hot: set[str]) -> list[dict]:
    """The category questions of one agency (see CATEGORIES), with their truth from the planted facts."""
    import polars as pl

    items = []
    mine = facts.filter(pl.col("tenant_id") == tenant)
    for topic, (competitors, objections) in CATEGORIES.items():
        rows = mine.filter(pl.col("value").is_in(list(objections)) |
                           ((pl.col("fact_type") == "competitor") if competitors else pl.lit(False)))
        truth, sources = set(rows["entity_id"]), set(rows["source_id"])
        if len(truth) < 2:
            continue
        if competitors:
            leads = {contacts_of[s] for s in sources if contacts_of.get(s) in hot}
            items += [{"kind": "category", "question": f"Which companies mentioned {topic}?"},
                      {"kind": "how many", "question": f"How many companies mentioned {topic}?"}]
            if leads:
                items.append({"kind": "category", "question": "hot leads that mentioned a competitor",
                              "truth": leads})
        else:
            items.append({"kind": "category+" if topic in PARTIAL_TRUTH else "category",
                          "question": f"Which companies raised concerns about {topic}?"})
        for item in items:
            item.setdefault("truth", truth)
            item.setdefault("sources", sources)
            item["tenant_id"] = tenant
    return items


def question_set(facts_path: Path) -> list[dict]:
    """[{kind, tenant_id, question, truth: {company ids}, sources: {source ids stating it}}], then off-topic."""
    import polars as pl
    from sqlalchemy import text

    from crm.db.engine import admin_engine

    facts = pl.read_parquet(facts_path).filter(pl.col("fact_type").is_in(["competitor", "objection"]))
    with admin_engine().connect() as conn:
        risk = {(str(t), str(e)): p for t, e, p in conn.execute(text(
            "select tenant_id, entity_id, probability from scores where entity_type = 'account'"))}
        hot = {str(e) for (e,) in conn.execute(text("select entity_id from scores where entity_type = 'lead' "
                                                      "and tier = 'A'"))}
        contacts_of = {str(i): str(c) for i, c in conn.execute(text(
            "select id, contact_id from notes where contact_id is not null union all "
            "select id, contact_id from activities where contact_id is not null"))}
    grouped = (facts.group_by("tenant_id", "fact_type", "value")
               .agg(pl.col("entity_id").unique().alias("truth"), pl.col("source_id").unique().alias("sources"))
               .sort("tenant_id", "fact_type", "value"))
    items = []
    for g in grouped.iter_rows(named=True):
        truth, sources, tenant = set(g["truth"]), set(g["sources"]), g["tenant_id"]
        if len(truth) < 2:
            continue
        if g["fact_type"] == "competitor":
            items.append({"kind": "which", "question": f"Which companies mentioned {g['value']}?"})
            items.append({"kind": "how many", "question": f"How many companies mentioned {g['value']}?"})
            risky = {c for c in truth if risk.get((tenant, c), 0.0) >= AT_RISK_PROBABILITY}
            if risky:
                items.append({"kind": "mixed", "question": f"Which at-risk customers mentioned {g['value']}?",
                              "truth": risky})
        else:
            items.append({"kind": "objection", "question": f"Which companies raised the objection that {g['value']}?"})
            if g["value"] in PARAPHRASED:
                items.append({"kind": "paraphrase", "question": PARAPHRASED[g["value"]]})
        for item in items[-4:]:
            item.setdefault("truth", truth)
            item.setdefault("sources", sources)
            item.setdefault("tenant_id", tenant)
    tenants = sorted({i["tenant_id"] for i in items})
    for t in tenants:
        items += category_questions(facts, t, contacts_of, hot)
    items += [{"kind": "off-topic", "question": q, "truth": set(), "sources": set(), "tenant_id": t}
              for t in tenants for q in OFF_TOPIC]
    return items


def _ask(item: dict, old: bool):
    from crm.db.engine import tenant_session
    from serving.insights import answer, read_records
    from serving.insights_agent import ask

    t0 = time.perf_counter()
    with tenant_session(item["tenant_id"]) as session:
        records = read_records(session, item["question"])
    out = answer(records) if old else ask(records)
    return out, time.perf_counter() - t0


def run(items: list[dict], names: dict[str, str]) -> dict[str, dict]:
    """Per kind of question: recall, precision, citation precision, citations off-topic, latencies; and the
    old single-record answer beside it."""
    for item in items[:3]:   # warm the embedding model and caches: latencies below are answers only
        _ask(item, old=False)
        _ask(item, old=True)
    stats: dict[str, dict] = {}
    for item in items:
        out, seconds = _ask(item, old=False)
        predicted = {i.entity_id for g in out.groups for i in g.items}
        cites = out.insight.citations
        old, old_seconds = _ask(item, old=True)
        old_named = {c for c in item["truth"]   # names: companies; a contact (hot leads) counts as not named
                     if c in names and re.search(rf"(?<!\w){re.escape(names[c])}(?!\w)", old.answer)}
        s = stats.setdefault(item["kind"], {"n": 0, "recall": 0.0, "precision": 0.0, "cites": 0, "right": 0,
                                            "latency": [], "old_latency": [], "old_recall": 0.0, "count_ok": 0,
                                            "cited_off_topic": 0})
        s["n"] += 1
        s["latency"].append(seconds)
        s["old_latency"].append(old_seconds)
        if item["kind"] == "off-topic":
            s["cited_off_topic"] += len(cites) > 0
            continue
        hit = len(predicted & item["truth"])
        s["recall"] += hit / len(item["truth"])
        s["precision"] += hit / len(predicted) if predicted else 0.0
        s["old_recall"] += len(old_named) / len(item["truth"])
        s["cites"] += len(cites)
        s["right"] += sum(c.source_id in item["sources"] for c in cites)
        if item["kind"] == "how many":
            s["count_ok"] += out.insight.answer.startswith(f"{len(item['truth'])} ")
    return stats


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return 1000 * values[int(q * (len(values) - 1))] if values else 0.0


def report(stats: dict[str, dict]) -> dict:
    print("\naggregate questions (insights agent, offline)   baseline: the single-record answer before, same run")
    print(f"{'kind':<10} {'n':>3} {'recall':>7} {'precis.':>7} {'cite pr.':>8} {'p50 ms':>7} {'p95 ms':>7}"
          f" | {'old recall':>10} {'old p95 ms':>10}")
    agg = {"n": 0, "recall": 0.0, "precision": 0.0, "cites": 0, "right": 0}
    latency, old_latency = [], []
    for kind, s in stats.items():
        n = s["n"]
        latency += s["latency"]
        old_latency += s["old_latency"]
        if kind == "off-topic":
            print(f"{kind:<10} {n:>3} {'':>7} {'':>7} {'':>8} {_pct(s['latency'], .5):>7.0f} "
                  f"{_pct(s['latency'], .95):>7.0f} | answered citing: {s['cited_off_topic']} (goal 0)")
            continue
        if kind not in ("paraphrase", "category+"):   # outside the goal figures (PARAPHRASED, PARTIAL_TRUTH)
            for k in ("recall", "precision", "cites", "right"):
                agg[k] += s[k]
            agg["n"] += n
        cite_precision = s["right"] / s["cites"] if s["cites"] else 1.0
        extra = f"  counts right {s['count_ok']}/{n}" if kind == "how many" else ""
        print(f"{kind:<10} {n:>3} {s['recall'] / n:>7.3f} {s['precision'] / n:>7.3f} {cite_precision:>8.3f} "
              f"{_pct(s['latency'], .5):>7.0f} {_pct(s['latency'], .95):>7.0f} | {s['old_recall'] / n:>10.3f} "
              f"{_pct(s['old_latency'], .95):>10.0f}{extra}")
    summary = {"recall": agg["recall"] / max(agg["n"], 1), "precision": agg["precision"] / max(agg["n"], 1),
               "citation_precision": agg["right"] / agg["cites"] if agg["cites"] else 1.0,
               "off_topic_cited": stats.get("off-topic", {}).get("cited_off_topic", 0),
               "p95_ms": _pct(latency, .95), "old_p95_ms": _pct(old_latency, .95)}
    goals = [("named-entity recall", summary["recall"], ">= 0.9", summary["recall"] >= 0.9),
             ("named-entity precision", summary["precision"], ">= 0.9", summary["precision"] >= 0.9),
             ("citation precision", summary["citation_precision"], ">= 0.9", summary["citation_precision"] >= 0.9),
             ("off-topic questions citing", summary["off_topic_cited"], "== 0", summary["off_topic_cited"] == 0),
             ("p95 latency ms (all questions)", summary["p95_ms"], "<= 2000", summary["p95_ms"] <= 2000)]
    print()
    for name, value, goal, ok in goals:
        print(f"{name:<32} {value:>8.3f}  goal {goal:<8} {'met' if ok else 'NOT met'}")
    print(f"{'p95 latency ms, old answer':<32} {summary['old_p95_ms']:>8.0f}  (same questions, same run; the machine "
          "is shared: read the ratio)")
    return summary

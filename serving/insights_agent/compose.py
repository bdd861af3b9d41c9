"""Answers from the tools' findings: every matching record named, linked, counted and cited.

Aggregate answers list the complete set in `groups` (the API pages them) and name the first NAMES_IN_ANSWER
in the sentence with their citation numbers, saying how many more there are. Nothing found -> a sentence that
says so and no citations: a list answer never pads itself with loosely related quotes."""

from __future__ import annotations

from collections import defaultdict

from serving.citations import Citation
from serving.insights import NOTHING_FOUND, Insight
from serving.insights_agent.state import AgentAnswer, Evidence, Group, Item, Plan
from serving.insights_agent.tools import ScoredRecord

NAMES_IN_ANSWER = 10
CITES_PER_ITEM = 2
NOUNS = {"company": ("company", "companies"), "contact": ("contact", "contacts")}


def url_of(entity_type: str, entity_id: str) -> str:
    return {"company": "/companies/", "contact": "/contacts/"}.get(entity_type, "/") + entity_id


def noun(plan: Plan, n: int) -> str:
    one, many = NOUNS[plan.subject]
    if plan.churn_tiers:
        one, many = "account at risk", "accounts at risk"
    elif plan.lead_tiers:
        label = {"A": "hot", "B": "warm"}.get(plan.lead_tiers[0], "cold")
        one, many = f"{label} lead", f"{label} leads"
    return one if n == 1 else many


def items_from_evidence(plan: Plan, evidence: list[Evidence], names: dict[str, str],
                        scored: dict[str, ScoredRecord] | None) -> list[Item]:
    """One item per company (or contact) the evidence is about, kept only if the tenant's records name it
    and, when tiers were asked for, its current score is in them; most mentions first."""
    by_entity: dict[str, list[Evidence]] = defaultdict(list)
    for e in evidence:
        key = e.company_id if plan.subject == "company" else e.contact_id
        if key:
            by_entity[key].append(e)
    items = []
    for entity_id, found in by_entity.items():
        if entity_id not in names or (scored is not None and entity_id not in scored):
            continue
        found.sort(key=lambda e: (-e.score, -(e.citation.occurred_at.timestamp() if e.citation.occurred_at else 0)))
        detail = ""
        if scored is not None:
            s = scored[entity_id]
            detail = f"{'churn' if plan.churn_tiers else 'lead'} tier {s.tier}, {s.score}/100"
        items.append(Item(plan.subject, entity_id, names[entity_id], url_of(plan.subject, entity_id), found, detail))
    return sorted(items, key=lambda i: (-len(i.evidence), i.name.lower()))


def _numbered(items: list[Item]) -> tuple[list[Citation], dict[str, list[int]]]:
    citations: list[Citation] = []
    numbers: dict[str, list[int]] = {}
    for item in items:
        numbers[item.entity_id] = []
        for e in item.evidence[:CITES_PER_ITEM]:
            citations.append(e.citation)
            numbers[item.entity_id].append(len(citations))
    return citations, numbers


def _named_list(items: list[Item], numbers: dict[str, list[int]]) -> str:
    shown = [f"{i.name} {''.join(f'[{n}]' for n in numbers[i.entity_id])}" for i in items[:NAMES_IN_ANSWER]]
    more = len(items) - len(shown)
    text = ", ".join(shown)
    return text + (f", and {more} more (all listed below)" if more > 0 else "")


def aggregate_answer(plan: Plan, items: list[Item], scope: str = "") -> AgentAnswer:
    what = f"“{plan.topic}”"
    verb = "complained about" if plan.negative else "mentioned"
    if not items:
        many = NOUNS[plan.subject][1]
        return AgentAnswer(Insight(f"No {noun(plan, 0) if plan.tiers else many}{scope} {verb} {what} in their "
                                   "notes, emails, calls or tickets.", []), [], plan)
    citations, numbers = _numbered(items)
    lead = f"{len(items)} {noun(plan, len(items))}{scope} {verb} {what}"
    answer = f"{lead}: {_named_list(items, numbers)}."
    if plan.by_theme:
        from serving.insights_agent.themes import cluster

        groups = theme_groups(cluster([i.evidence[0] for i in items]), items, plan.subject)
        answer += " By theme: " + "; ".join(f"{g.count} — “{g.label.rstrip('.')}”" for g in groups[:5]) + "."
    elif plan.tiers:
        groups = [Group(f"tier-{t}", f"Tier {t}", [i for i in items if f"tier {t}," in i.detail])
                  for t in plan.tiers[2]]
        groups = [g for g in groups if g.items]
    else:
        groups = [Group("matches", lead[0].upper() + lead[1:], items)]
    for g in groups:
        g.count = len(g.items)
    return AgentAnswer(Insight(answer, citations), groups, plan)


def theme_groups(themes, items: list[Item], subject: str) -> list[Group]:
    by_id = {i.entity_id: i for i in items}
    groups = []
    for n, (label, found) in enumerate(themes, 1):
        ids = list(dict.fromkeys((e.company_id if subject == "company" else e.contact_id) for e in found))
        members = [by_id[i] for i in ids if i in by_id]
        if members:
            groups.append(Group(f"theme-{n}", label, members, len(members)))
    return groups


def why_answer(plan: Plan, themes, items: list[Item]) -> AgentAnswer:
    """Reasons grouped by theme, each theme counted in companies (or contacts) and cited."""
    if not items:
        return AgentAnswer(Insight(NOTHING_FOUND, []), [], plan)
    citations, numbers = _numbered(items)
    groups = theme_groups(themes, items, plan.subject)
    parts = []
    for g in groups[:5]:
        refs = "".join(f"[{numbers[i.entity_id][0]}]" for i in g.items[:3])
        parts.append(f"{g.count} {noun(plan, g.count)}: “{g.label.rstrip('.')}” {refs}")
    answer = f"{len(items)} {noun(plan, len(items))} gave reasons; by theme — " + "; ".join(parts) + "."
    return AgentAnswer(Insight(answer, citations), groups, plan)


def score_reason_answer(plan: Plan, scored: dict[str, ScoredRecord]) -> AgentAnswer:
    """Why accounts are at risk / leads are hot: the reasons their published scores give, grouped by factor
    and counted; each record cites its score."""
    if not scored:
        return AgentAnswer(Insight(NOTHING_FOUND, []), [], plan)
    entity_type = "company" if plan.churn_tiers else "contact"
    by_reason: dict[str, list[Item]] = defaultdict(list)
    labels: dict[str, str] = {}
    citations: list[Citation] = []
    number: dict[str, int] = {}
    for s in scored.values():
        reasons = "; ".join(text for _, text in s.reasons) or "no reason raising it"
        citations.append(Citation("score", s.entity_id, f"{s.name}: {s.score}/100, tier {s.tier}; {reasons}", None))
        number[s.entity_id] = len(citations)
        item = Item(entity_type, s.entity_id, s.name, url_of(entity_type, s.entity_id), [],
                    f"tier {s.tier}, {s.score}/100")
        for feature, text in s.reasons:
            by_reason[feature].append(item)
            labels.setdefault(feature, reason_label(text))
    groups = sorted((Group(f"reason-{f}", labels[f], its, len(its)) for f, its in by_reason.items()),
                    key=lambda g: -g.count)
    top = "; ".join(f"{g.label} ({g.count}) {''.join(f'[{number[i.entity_id]}]' for i in g.items[:3])}"
                    for g in groups[:5])
    answer = f"{len(scored)} {noun(plan, len(scored))}. The reasons their scores give, most common first: {top}."
    return AgentAnswer(Insight(answer, citations), groups, plan)


def reason_label(text: str) -> str:
    """'Last order 80 days ago: +20' -> 'Last order N days ago': one label for every account with that reason."""
    import re

    text = re.sub(r":\s*[+-]?\d+(?:\.\d+)?\s*$", "", text)
    return re.sub(r"[$]?\d[\d,]*(?:\.\d+)?%?", "N", text).strip()


def records_answer(plan: Plan, title: str, items: list[Item], citations: list[Citation]) -> AgentAnswer:
    if not items:
        return AgentAnswer(Insight(NOTHING_FOUND, []), [], plan)
    shown = ", ".join(f"{i.name} ({i.detail})" for i in items[:NAMES_IN_ANSWER])
    more = len(items) - min(len(items), NAMES_IN_ANSWER)
    answer = f"{len(items)} {title}: {shown}" + (f", and {more} more (all listed below)" if more else "") + "."
    if citations:
        answer = answer[:-1] + " [1]."
    return AgentAnswer(Insight(answer, citations), [Group("records", title[0].upper() + title[1:], items,
                                                          len(items))], plan)


def not_found_answer(plan: Plan) -> AgentAnswer:
    return AgentAnswer(Insight(f"No company or contact named “{plan.target}” was found in this workspace.", []),
                       [], plan)


def action_answer(plan: Plan, rec) -> AgentAnswer:
    """A `serving.next_action.Recommendation` as an answer: the action, then each reason with its citation (the
    record it was read from); the one item is the company or contact, linked, citing every reason."""
    citations = [Citation(r.source_type, r.source_id, r.snippet or r.text, r.occurred_at) for r in rec.reasons]
    why = "; ".join(f"{r.text.rstrip('.')} [{n}]" for n, r in enumerate(rec.reasons, 1))
    answer = (f"Next best action for {rec.entity_name}: {rec.action} ({rec.priority} priority, by "
              f"{rec.due.isoformat()}).") + (f" Why: {why}." if why else "")
    company = rec.entity_id if rec.entity_type == "company" else None
    contact = rec.entity_id if rec.entity_type == "contact" else None
    item = Item(rec.entity_type, rec.entity_id, rec.entity_name, url_of(rec.entity_type, rec.entity_id),
                [Evidence(c, company, contact, c.source_type) for c in citations],
                f"{rec.action} ({rec.priority} priority, by {rec.due.isoformat()})")
    return AgentAnswer(Insight(answer, citations), [Group("next-action", rec.action, [item], 1)], plan)

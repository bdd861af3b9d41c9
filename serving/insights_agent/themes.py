"""Group evidence sentences by what they say: greedy clustering of their embeddings (one batch).

A theme is seeded by the strongest sentence not yet placed; every later sentence within THEME_SIMILARITY
cosine of a seed joins that theme. The seed is the theme's label, so the label is words a client said."""

from __future__ import annotations

from collections import defaultdict

from serving.embeddings import embed
from serving.insights_agent.state import Evidence

THEME_SIMILARITY = 0.6


def cluster(evidence: list[Evidence]) -> list[tuple[str, list[Evidence]]]:
    """[(label, evidence in that theme)], largest theme first."""
    if not evidence:
        return []
    vectors = embed([e.citation.snippet for e in evidence])
    seeds: list[int] = []
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(evidence)):
        sims = [float(vectors[i] @ vectors[s]) for s in seeds]
        best = max(range(len(seeds)), key=sims.__getitem__, default=None)
        if best is not None and sims[best] >= THEME_SIMILARITY:
            members[seeds[best]].append(i)
        else:
            seeds.append(i)
            members[i].append(i)
    themes = [(evidence[s].citation.snippet, [evidence[i] for i in members[s]]) for s in seeds]
    return sorted(themes, key=lambda t: -len({e.company_id or e.contact_id for e in t[1]}))

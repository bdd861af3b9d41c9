"""Turn retrieved passages and facts into numbered context, and pick the sentence that supports a claim.

Both answer modes share this: the extractive answer quotes the chosen sentences verbatim, and a chat
model gets the same numbered context, so either way every claim points at a citation that exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from serving.citations import Citation, clip
from serving.embeddings import embed
from serving.entity_facts import Fact
from serving.rag.chunking import split_sentences
from serving.rag.retrieve import Passage

MIN_QUOTE_WORDS = 4
RELATIVE_CUTOFF = 0.15  # cosine below the best passage's quote at which a passage is dropped
KIND_LABELS = {
    "note": "a note", "email_sent": "an email we sent", "email_replied": "an email reply",
    "call": "a call summary", "meeting": "a meeting summary", "support_ticket": "a support ticket",
}


@dataclass
class Context:
    question: str
    facts: list[Fact] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)  # per passage: its sentence closest to the question
    full_texts: dict[str, str] = field(default_factory=dict)  # source_id -> whole text, for a chat model

    def citations(self) -> list[Citation]:
        """Numbered [1..n]: passages first (they answer the question), then facts."""
        cites = [Citation(p.source_type, p.source_id, clip(q), p.occurred_at)
                 for p, q in zip(self.passages, self.quotes, strict=True)]
        return cites + [f.citation for f in self.facts]

    def numbered(self) -> str:
        """The context block a chat model reads: full passage text, then the facts."""
        lines = [f"[{i}] {KIND_LABELS.get(p.kind, p.kind)} from {p.occurred_at.date().isoformat()}: "
                 f"{self.full_texts.get(p.source_id, p.text)}" for i, p in enumerate(self.passages, 1)]
        lines += [f"[{i}] {f.sentence}" for i, f in enumerate(self.facts, len(self.passages) + 1)]
        return "\n".join(lines) or "(no records found)"


def one_per_source(passages: list[Passage], limit: int) -> list[Passage]:
    """Best chunk of each source, in rank order: two chunks of one note would cite it twice."""
    seen, out = set(), []
    for p in passages:
        if p.source_id not in seen:
            seen.add(p.source_id)
            out.append(p)
    return out[:limit]


def _candidates(text: str) -> list[str]:
    """Sentences worth quoting: a bare subject line or a 'Thanks.' says nothing on its own."""
    sentences = split_sentences(text) or [text]
    return [s for s in sentences if len(s.split()) >= MIN_QUOTE_WORDS] or sentences


def best_sentences(question: str, passages: list[Passage]) -> tuple[list[str], list[float]]:
    """For each passage, the sentence most similar to the question and that similarity (one embed batch)."""
    if not passages:
        return [], []
    sentences = [_candidates(p.text) for p in passages]
    flat = [s for group in sentences for s in group]
    vectors = embed([question, *flat])
    sims = vectors[1:] @ vectors[0]
    quotes, scores, offset = [], [], 0
    for group in sentences:
        best = int(np.argmax(sims[offset:offset + len(group)]))
        quotes.append(group[best])
        scores.append(float(sims[offset + best]))
        offset += len(group)
    return quotes, scores


def quoted_context(question: str, facts: list[Fact], passages: list[Passage]) -> Context:
    """Context with each passage's best sentence; passages much weaker than the best one are left out,
    so an answer does not pad itself with unrelated notes."""
    quotes, scores = best_sentences(question, passages)
    keep = [i for i, s in enumerate(scores) if i == 0 or s >= scores[0] - RELATIVE_CUTOFF]
    return Context(question, facts, [passages[i] for i in keep], [quotes[i] for i in keep])


def quote_sentence(passage: Passage, quote: str, n: int) -> str:
    """One answer sentence: where the words come from, the words verbatim, the citation number."""
    when = passage.occurred_at.date().isoformat()
    return f'In {KIND_LABELS.get(passage.kind, passage.kind)} on {when}: "{clip(quote)}" [{n}]'

"""Questions about one record, or a plain search: the retrieval + facts answer of serving/insights.py, with a
relevance floor when the question names no record: across the whole workspace, a passage's best sentence must
be about the question (cosine >= MIN_RELEVANCE to it), or it is left out; with none left the answer says
nothing was found and cites nothing."""

from __future__ import annotations

from serving.grounding import RELATIVE_CUTOFF, Context, best_sentences, one_per_source
from serving.insights import PASSAGES_IN_ANSWER, Insight, QuestionRecords, extractive_answer, llm_answer, retrieve

MIN_RELEVANCE = 0.45


def relevant_context(records: QuestionRecords) -> tuple[Context, object]:
    """As serving.insights.gather_context (one embedding batch for the quotes), plus the floor above."""
    hits, entity, facts = retrieve(records)
    passages = one_per_source(hits, PASSAGES_IN_ANSWER)
    quotes, scores = best_sentences(records.question, passages)
    keep = [i for i, s in enumerate(scores) if entity is not None or s >= MIN_RELEVANCE]
    if keep:   # passages much weaker than the first kept one would pad the answer
        keep = [i for i in keep if i == keep[0] or scores[i] >= scores[keep[0]] - RELATIVE_CUTOFF]
    return Context(records.question, facts, [passages[i] for i in keep], [quotes[i] for i in keep]), entity


def single_answer(records: QuestionRecords, llm=None) -> Insight:
    context, entity = relevant_context(records)
    if llm is None:
        return extractive_answer(context)
    return llm_answer(llm, records.tenant_id, context, entity)

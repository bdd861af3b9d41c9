"""Questions about one record, or a plain search: the retrieval + facts answer of serving/insights.py, with a
relevance floor when the question names no record: across the whole workspace, the best sentence must be
about the question (cosine >= MIN_RELEVANCE to it), or the answer says nothing was found and cites nothing."""

from __future__ import annotations

from serving.grounding import best_sentences, one_per_source, quoted_context
from serving.insights import PASSAGES_IN_ANSWER, Insight, QuestionRecords, extractive_answer, llm_answer, retrieve

MIN_RELEVANCE = 0.45


def single_answer(records: QuestionRecords, llm=None) -> Insight:
    hits, entity, facts = retrieve(records)
    passages = one_per_source(hits, PASSAGES_IN_ANSWER)
    if entity is None and passages:
        _, scores = best_sentences(records.question, passages)
        keep = [p for p, s in zip(passages, scores, strict=True) if s >= MIN_RELEVANCE]
        passages = keep
    context = quoted_context(records.question, facts, passages)
    if llm is None:
        return extractive_answer(context)
    return llm_answer(llm, records.tenant_id, context, entity)

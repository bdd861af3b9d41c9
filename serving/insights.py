"""Answer a question about a company, a contact or the whole tenant, with citations.

A LangChain runnable: gather context (hybrid retrieval prefiltered by tenant + the entity's facts from
PostgreSQL) | compose. Composing is extractive by default (verbatim quotes and fact sentences, each
ending in its citation number); with a chat model the same numbered context goes to the model and the
citations it refers to come back. Either way the citations are records of the asking tenant.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda

from crm.db.engine import tenant_session
from serving.citations import Citation
from serving.entity_facts import Entity, company_named_in, find_entity, gather_facts
from serving.grounding import Context, one_per_source, quote_sentence, quoted_context
from serving.rag.retrieve import search, source_texts
from serving.rag.store import as_uuid

PASSAGES_IN_ANSWER = 3
NOTHING_FOUND = "No notes, emails or records of this workspace answer that question."
_CITE = re.compile(r"\[(\d{1,3})\]")

SYSTEM = (
    "You are a CRM assistant for a marketing agency. Answer the question using only the numbered context. "
    "End every sentence with the number of the context item it comes from, like [2]. "
    "If the context does not answer the question, say so. Never invent names, numbers or dates."
)
PROMPT = ChatPromptTemplate.from_messages([
    ("system", SYSTEM),
    ("human", "{subject}Context:\n{context}\n\nQuestion: {question}"),
])


class EntityNotFound(LookupError):
    def __init__(self, kind: str, id_: object):
        super().__init__(f"{kind} {id_} not found")
        self.kind, self.id = kind, id_


@dataclass(frozen=True)
class InsightRequest:
    tenant_id: str
    question: str
    company_id: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True)
class Insight:
    answer: str
    citations: list[Citation]

    def to_dict(self) -> dict:
        return {"answer": self.answer, "citations": [c.to_dict() for c in self.citations]}


def resolve_entity(tenant_id: str, company_id=None, contact_id=None) -> Entity | None:
    """The entity under the tenant's RLS; EntityNotFound for a missing id or another tenant's id."""
    with tenant_session(tenant_id) as session:
        entity, missing = find_entity(session, company_id, contact_id)
    if missing:
        raise EntityNotFound(missing, company_id if missing == "company" else contact_id)
    return entity


def entity_names(entity: Entity | None) -> list[str]:
    if entity is None:
        return []
    names = [entity.name, entity.first_name, entity.company_name or ""]
    if entity.kind == "contact":
        names.append(entity.name.split(" ")[-1])  # "Ann Archer" is also "Archer"
    return [n for n in names if n and len(n) > 1]


def scoped_search(tenant_id: str, question: str, entity: Entity | None, k: int = 8) -> tuple[list, Entity | None]:
    """Hybrid search within the entity; with none given, within the tenant's company the question names
    (if any, falling back to the whole tenant when that company has no text)."""
    if entity is None:
        with tenant_session(tenant_id) as session:
            linked = company_named_in(session, question)
        if linked is not None:
            hits = search(tenant_id, question, mode="hybrid", k=k, company_id=linked.id,
                          entity_names=entity_names(linked))
            if hits:
                return hits, linked
        return search(tenant_id, question, mode="hybrid", k=k), None
    ids = {"company_id": entity.id} if entity.kind == "company" else {"contact_id": entity.id}
    return search(tenant_id, question, mode="hybrid", k=k, entity_names=entity_names(entity), **ids), entity


def gather_context(req: InsightRequest, k: int = 8) -> tuple[Context, Entity | None]:
    entity = resolve_entity(req.tenant_id, req.company_id, req.contact_id)
    if req.company_id and req.contact_id:  # both given: the contact, within that company
        hits = search(req.tenant_id, req.question, mode="hybrid", k=k, company_id=req.company_id,
                      contact_id=req.contact_id, entity_names=entity_names(entity))
    else:
        hits, entity = scoped_search(req.tenant_id, req.question, entity, k)
    passages = one_per_source(hits, PASSAGES_IN_ANSWER)
    return quoted_context(req.question, gather_facts(req.tenant_id, entity), passages), entity


def extractive_answer(context: Context) -> Insight:
    """Quotes of the best passages, then the facts; every sentence ends with its citation number."""
    citations = context.citations()
    if not citations:
        return Insight(NOTHING_FOUND, [])
    sentences = [quote_sentence(p, q, i) for i, (p, q) in enumerate(zip(context.passages, context.quotes,
                                                                        strict=True), 1)]
    first_fact = len(context.passages) + 1
    sentences += [f"{f.sentence} [{i}]" for i, f in enumerate(context.facts, first_fact)]
    return Insight(" ".join(sentences), citations)


def cited(answer: str, citations: list[Citation]) -> list[Citation]:
    """The citations a model's answer refers to ([n] in range); all of them if it referred to none."""
    numbers = sorted({int(n) for n in _CITE.findall(answer) if 1 <= int(n) <= len(citations)})
    return [citations[n - 1] for n in numbers] if numbers else citations


def llm_answer(llm, tenant_id: str, context: Context, entity: Entity | None) -> Insight:
    citations = context.citations()
    if not citations:
        return Insight(NOTHING_FOUND, [])
    context.full_texts = source_texts(tenant_id, [p.source_id for p in context.passages])
    subject = f"The question is about the {entity.kind} {entity.name}.\n" if entity else ""
    answer = (PROMPT | llm | StrOutputParser()).invoke(
        {"subject": subject, "context": context.numbered(), "question": context.question})
    return Insight(answer.strip(), cited(answer, citations))


def build_chain(llm=None) -> Runnable:
    """InsightRequest -> Insight. `llm=None` composes extractively (offline)."""
    gather = RunnableLambda(lambda req: (req.tenant_id, *gather_context(req)), name="gather_context")
    if llm is None:
        compose = RunnableLambda(lambda tce: extractive_answer(tce[1]), name="extractive_answer")
    else:
        compose = RunnableLambda(lambda tce: llm_answer(llm, *tce), name="llm_answer")
    return gather | compose


def answer_question(tenant_id: uuid.UUID | str, question: str, company_id=None, contact_id=None,
                    llm=None) -> Insight:
    req = InsightRequest(as_uuid(tenant_id, "tenant_id"), question,
                         company_id and as_uuid(company_id, "company_id"),
                         contact_id and as_uuid(contact_id, "contact_id"))
    return build_chain(llm).invoke(req)

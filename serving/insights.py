"""Answer a question about a company, a contact or the whole tenant, with citations.

Two steps: `read_records` reads what PostgreSQL knows (the entity asked about and its facts) in the
session the edge opened for the request; `answer` then runs a LangChain runnable, gather context (hybrid
retrieval prefiltered by tenant, quotes) | compose, which touches no database. Composing is extractive by
default (verbatim quotes and fact sentences, each ending in its citation number); with a chat model the
same numbered context goes to the model and the citations it refers to come back. Either way the citations
are records of the asking tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda
from sqlalchemy.orm import Session

from crm.db.engine import session_tenant
from crm.ids import parse_uuid
from serving.citations import Citation
from serving.entity_facts import Entity, Fact, company_named_in, find_entity, gather_facts
from serving.grounding import Context, one_per_source, quote_sentence, quoted_context
from serving.rag.retrieve import Passage, search, source_texts

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
class QuestionRecords:
    """What PostgreSQL holds for one question, read in the request's one tenant transaction.

    Retrieval, quoting and composing need no database, so they run after that transaction: a slow chat
    model holds no connection. The facts of a company the question names are read up front too, and kept
    only if retrieval finds that company's texts (a few indexed queries, rather than a second transaction)."""

    tenant_id: str
    question: str
    company_id: str | None
    contact_id: str | None
    entity: Entity | None           # the company or contact asked about
    facts: list[Fact]
    named: Entity | None            # with none asked about: the tenant's company the question names
    named_facts: list[Fact]


@dataclass(frozen=True)
class Insight:
    answer: str
    citations: list[Citation]

    def to_dict(self) -> dict:
        return {"answer": self.answer, "citations": [c.to_dict() for c in self.citations]}


def _id(value, what: str) -> str | None:
    return None if value is None else str(parse_uuid(value, what))


def read_records(session: Session, question: str, company_id=None, contact_id=None) -> QuestionRecords:
    """The entity (EntityNotFound for a missing id or another tenant's id: RLS hides it) and its facts."""
    company_id, contact_id = _id(company_id, "company_id"), _id(contact_id, "contact_id")
    entity, missing = find_entity(session, company_id, contact_id)
    if missing:
        raise EntityNotFound(missing, company_id if missing == "company" else contact_id)
    named = company_named_in(session, question) if entity is None else None
    return QuestionRecords(str(session_tenant(session)), question, company_id, contact_id,
                           entity, gather_facts(session, entity), named, gather_facts(session, named))


def entity_names(entity: Entity | None) -> list[str]:
    if entity is None:
        return []
    names = [entity.name, entity.first_name, entity.company_name or ""]
    if entity.kind == "contact":
        names.append(entity.name.split(" ")[-1])  # "Ann Archer" is also "Archer"
    return [n for n in names if n and len(n) > 1]


def retrieve(rec: QuestionRecords, k: int = 8) -> tuple[list[Passage], Entity | None, list[Fact]]:
    """Hybrid search within the entity asked about; with none, within the tenant's company the question
    names (if any, falling back to the whole tenant when that company has no text). Returns the hits and
    the entity they are about, with its facts."""
    tenant, question = rec.tenant_id, rec.question
    if rec.company_id and rec.contact_id:  # both given: the contact, within that company
        return search(tenant, question, mode="hybrid", k=k, company_id=rec.company_id, contact_id=rec.contact_id,
                      entity_names=entity_names(rec.entity)), rec.entity, rec.facts
    if rec.entity is not None:
        ids = {"company_id": rec.entity.id} if rec.entity.kind == "company" else {"contact_id": rec.entity.id}
        return (search(tenant, question, mode="hybrid", k=k, entity_names=entity_names(rec.entity), **ids),
                rec.entity, rec.facts)
    if rec.named is not None:
        hits = search(tenant, question, mode="hybrid", k=k, company_id=rec.named.id,
                      entity_names=entity_names(rec.named))
        if hits:
            return hits, rec.named, rec.named_facts
    return search(tenant, question, mode="hybrid", k=k), None, []


def gather_context(rec: QuestionRecords, k: int = 8) -> tuple[Context, Entity | None]:
    hits, entity, facts = retrieve(rec, k)
    passages = one_per_source(hits, PASSAGES_IN_ANSWER)
    return quoted_context(rec.question, facts, passages), entity


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
    reply = (PROMPT | llm | StrOutputParser()).invoke(
        {"subject": subject, "context": context.numbered(), "question": context.question})
    return Insight(reply.strip(), cited(reply, citations))


def build_chain(llm=None) -> Runnable:
    """QuestionRecords -> Insight. `llm=None` composes extractively (offline)."""
    gather = RunnableLambda(lambda rec: (rec.tenant_id, *gather_context(rec)), name="gather_context")
    if llm is None:
        compose = RunnableLambda(lambda tce: extractive_answer(tce[1]), name="extractive_answer")
    else:
        compose = RunnableLambda(lambda tce: llm_answer(llm, *tce), name="llm_answer")
    return gather | compose


def answer(rec: QuestionRecords, llm=None) -> Insight:
    """The answer to a question whose records were read (`read_records`); touches no database."""
    return build_chain(llm).invoke(rec)

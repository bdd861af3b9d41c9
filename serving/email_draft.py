"""A follow-up email to one contact, grounded in that contact's history (notes, emails, calls, deals).

Offline: a short template filled with the contact's latest interaction, the sentences from their history
closest to open questions and next steps (quoted verbatim), and their open deal. With a chat model the
same numbered history goes to the model. Citations list every record the draft draws on.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from sqlalchemy.orm import Session

from crm.db.engine import session_tenant
from crm.ids import parse_uuid
from serving.citations import Citation, clip
from serving.entity_facts import Entity, Fact, find_entity, open_deal_facts
from serving.grounding import Context, best_sentences, one_per_source
from serving.insights import EntityNotFound, cited
from serving.rag.retrieve import Passage, search, source_texts

FOCUS = "next steps, open questions, concerns, budget, timeline and what they asked us for"
QUOTES = 2
PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You write short, warm follow-up emails for a marketing agency's account team. Use only facts "
               "from the numbered history; do not invent prices, dates or promises. Put the subject on the "
               "first line as 'Subject: ...', then the body."),
    ("human", "Write a follow-up email to {name}{company}.\n\nHistory:\n{context}"),
])


@dataclass(frozen=True)
class EmailDraft:
    subject: str
    body: str
    citations: list[Citation]

    def to_dict(self) -> dict:
        return {"subject": self.subject, "body": self.body, "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class ContactRecords:
    """What PostgreSQL holds for a draft, read in the request's one tenant transaction; the rest (search,
    quotes, a chat model) needs no database and runs after it."""

    tenant_id: str
    contact: Entity
    deal_facts: list[Fact]   # the contact's biggest open deal, if any


def read_contact(session: Session, contact_id) -> ContactRecords:
    """The contact (EntityNotFound for a missing id or another tenant's: RLS hides it) and its open deal."""
    contact, _ = find_entity(session, contact_id=parse_uuid(contact_id, "contact_id"))
    if contact is None:
        raise EntityNotFound("contact", contact_id)
    return ContactRecords(str(session_tenant(session)), contact, open_deal_facts(session, contact, limit=1))


def _history(rec: ContactRecords) -> Context:
    tenant_id, contact = rec.tenant_id, rec.contact
    relevant = search(tenant_id, FOCUS, mode="hybrid", k=8, contact_id=contact.id)
    latest = sorted(search(tenant_id, FOCUS, mode="vector", k=50, contact_id=contact.id),
                    key=lambda p: p.occurred_at, reverse=True)[:1]
    passages = one_per_source(latest + relevant, 1 + QUOTES)
    quotes, _ = best_sentences(FOCUS, passages)
    return Context(FOCUS, rec.deal_facts, passages, quotes, source_texts(tenant_id, [p.source_id for p in passages]))


_LEAD_INS = {"email_sent": "As I wrote on {d}", "email_replied": "In your email of {d}",
             "support_ticket": "In your support ticket of {d}", "call": "On our call of {d}",
             "meeting": "In our meeting of {d}"}


def _lead_in(passage: Passage) -> str:
    return _LEAD_INS.get(passage.kind, "When we spoke around {d}").format(d=passage.occurred_at.date().isoformat())


def _offline(contact: Entity, ctx: Context) -> EmailDraft:
    deal: Fact | None = ctx.facts[0] if ctx.facts else None
    deal_name = deal.sentence.split("'")[1] if deal and "'" in deal.sentence else None
    subject = f"Following up: {deal_name}" if deal_name else "Following up on our conversation"
    lines = [f"Hi {contact.first_name},", ""]
    if ctx.passages:
        lines.append("Thank you for your time recently. A few things I noted from our conversations:")
        for passage, quote in zip(ctx.passages, ctx.quotes, strict=True):
            lines.append(f'- {_lead_in(passage)}: "{clip(quote)}"')
    else:
        lines.append("Thank you for your interest in working with us.")
    if deal_name:
        lines.append(f"I would like to keep {deal_name} moving and agree on the next step together.")
    lines += ["Would you have 20 minutes next week to go through this?", "", "Best regards,"]
    return EmailDraft(subject, "\n".join(lines), ctx.citations())


def _with_llm(llm, contact: Entity, ctx: Context) -> EmailDraft:
    company = f" at {contact.company_name}" if contact.company_name else ""
    text = (PROMPT | llm | StrOutputParser()).invoke(
        {"name": contact.name, "company": company, "context": ctx.numbered()}).strip()
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        subject, body = first.split(":", 1)[1].strip(), rest.strip()
    else:
        subject, body = "Following up on our conversation", text
    return EmailDraft(subject, body, cited(text, ctx.citations()))


def draft(rec: ContactRecords, llm=None) -> EmailDraft:
    """The draft for a contact whose records were read (`read_contact`); touches no database."""
    if llm is None:
        compose = RunnableLambda(lambda ctx: _offline(rec.contact, ctx), name="compose_email")
    else:
        compose = RunnableLambda(lambda ctx: _with_llm(llm, rec.contact, ctx), name="compose_email")
    return (RunnableLambda(_history, name="contact_history") | compose).invoke(rec)

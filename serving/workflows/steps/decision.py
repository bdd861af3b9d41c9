"""ai_decision: classify the run's record into one of the step's labels and route the run by it.

What is classified is the record's latest text: the newest activity (subject and body) or note about it, or the
record's own text for an activity or a note. With a chat model configured (`CRM_LLM`, `serving.llm`) the model
answers a label and a reason. Without one, or when the model fails or answers no label of the step, a
deterministic offline classifier decides: each label is read as a concept (a buying signal, a complaint, an
objection, churn, a question, a sentiment) with its cue phrases (a label it does not know is its own words),
cues found in the text are counted, and VADER's compound sentiment adds a point to a label whose polarity it
agrees with. The output states the label, the reason (cues found, sentiment, and why the model was not used),
and the method; the route is `routes[label]`, else `default`.
The decision is recorded with the step, so a resumed run takes the same route without asking again.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.workflows.definition import AiDecisionParams, Step
from serving.llm import get_chat_model
from serving.sentiment import score_text
from serving.workflows.context import RunContext
from serving.workflows.ledger import once

# concept -> (cue phrases, polarity: +1 reads positive, -1 negative, 0 either)
CONCEPTS: dict[str, tuple[tuple[str, ...], int]] = {
    "buying": (("buy", "purchase", "pricing", "price list", "quote", "proposal", "contract", "sign", "ready to",
                "move forward", "go ahead", "budget is approved", "budget approved", "interested", "demo", "trial",
                "order", "get started", "onboard", "next step", "upgrade", "when can we start", "send over"), 1),
    "complaint": (("complain", "disappointed", "unacceptable", "broken", "refund", "angry", "frustrat", "terrible",
                   "awful", "poor", "not working", "doesn't work", "does not work", "bug", "problem", "worst",
                   "escalat", "still waiting", "no response", "delay"), -1),
    "objection": (("too expensive", "expensive", "cost", "concern", "not sure", "hesitant", "competitor", "cheaper",
                   "budget", "risk", "not convinced", "think about it", "not the right time", "not a priority"), 0),
    "churn": (("cancel", "terminate", "not renew", "won't renew", "leave", "switch", "moving to", "end our"), -1),
    "question": (("?", "how do", "can you", "could you", "what is", "wondering", "clarify"), 0),
    "positive": ((), 1), "negative": ((), -1), "neutral": ((), 0),
}
# words of a label -> the concept they name
SYNONYMS = {"buy": "buying", "purchas": "buying", "interest": "buying", "opportunit": "buying", "upsell": "buying",
            "signal": "buying", "hot": "buying", "complain": "complaint", "issue": "complaint", "problem": "complaint",
            "support": "complaint", "angry": "complaint", "objection": "objection", "concern": "objection",
            "hesita": "objection", "churn": "churn", "cancel": "churn", "risk": "churn", "question": "question",
            "inquir": "question", "enquir": "question", "positive": "positive", "happy": "positive",
            "negative": "negative", "unhappy": "negative", "neutral": "neutral", "other": "neutral"}
EXCERPT = 400

_LATEST = """
select text, kind, occurred_at from (
  select concat_ws(E'\\n', subject, body) as text, 'activity (' || type || ')' as kind, occurred_at
    from activities where {column} = :id
  union all
  select body, 'note', occurred_at from notes where {column} = :id
) latest where length(trim(text)) > 0 order by occurred_at desc limit 1
"""
_OWN = {"activity": "select concat_ws(E'\\n', subject, body), 'activity', occurred_at from activities where id = :id",
        "note": "select body, 'note', occurred_at from notes where id = :id"}
PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You classify CRM records for a marketing agency's account team. Answer with exactly two lines: "
               "'label: <one of the labels>' and 'reason: <one sentence quoting the text>'."),
    ("human", "Question: {question}\nLabels: {labels}\n\nLatest text ({kind}):\n{text}"),
])


def latest_text(ctx: RunContext) -> dict[str, Any]:
    """{text, kind, occurred_at} of the record's newest text ('' when it has none)."""
    if ctx.entity_id is None:
        return {"text": "", "kind": "none", "occurred_at": None}
    with tenant_session(ctx.tenant_id) as session:
        if ctx.entity_type in _OWN:
            row = session.execute(text(_OWN[ctx.entity_type]), {"id": ctx.entity_id}).first()
        elif ctx.entity_type in ("contact", "company", "deal"):
            row = session.execute(text(_LATEST.format(column=f"{ctx.entity_type}_id")), {"id": ctx.entity_id}).first()
        else:
            row = None
    if row is None:
        return {"text": "", "kind": "none", "occurred_at": None}
    return {"text": row[0] or "", "kind": row[1], "occurred_at": row[2].isoformat() if row[2] else None}


def concept_of(label: str) -> str | None:
    for word in re.findall(r"[a-z]+", label.lower()):
        for stem, concept in SYNONYMS.items():
            if word.startswith(stem):
                return concept
    return None


def classify_offline(labels: list[str], body: str) -> tuple[str | None, str, float]:
    """(label or None, reason, VADER compound): deterministic, from cue phrases and sentiment."""
    lowered = body.lower()
    compound = score_text(body)
    mood = 1 if compound >= 0.3 else -1 if compound <= -0.3 else 0
    scored = []
    for order, label in enumerate(labels):
        concept = concept_of(label)
        cues, polarity = CONCEPTS[concept] if concept else (tuple(re.findall(r"[a-z]+", label.lower())), 0)
        found = [cue for cue in cues if cue in lowered]
        agrees = polarity != 0 and polarity == mood
        scored.append((len(found) + agrees, agrees, -order, label, found, concept))
    best = max(scored)
    if not body.strip():
        return None, f"no text on the record to classify; VADER compound {compound:+.2f}", compound
    if best[0] == 0:
        return None, f"no cue of any label in the text; VADER compound {compound:+.2f}", compound
    _, agrees, _, label, found, concept = best
    parts = [f"matched {', '.join(repr(c) for c in found)}" if found else "no cue phrase matched"]
    parts.append(f"VADER compound {compound:+.2f}" + (" agrees" if agrees else ""))
    return label, f'"{label}" ({concept or "label words"}): ' + "; ".join(parts), compound


def _ask_model(llm, params: AiDecisionParams, latest: dict) -> tuple[str | None, str]:
    answer = (PROMPT | llm | StrOutputParser()).invoke(
        {"question": params.question, "labels": ", ".join(params.labels), "kind": latest["kind"],
         "text": latest["text"][:4000] or "(no text)"})
    said = re.search(r"label:\s*(.+)", answer, re.IGNORECASE)
    reason = re.search(r"reason:\s*(.+)", answer, re.IGNORECASE)
    wanted = (said.group(1) if said else answer).strip().strip("'\"`.").lower()
    label = next((lab for lab in params.labels if lab.lower() == wanted), None)
    if label is None:
        return None, answer.strip()[:200]
    return label, (reason.group(1) if reason else answer).strip()[:500]


def decide(ctx: RunContext, params: AiDecisionParams) -> dict[str, Any]:
    latest = latest_text(ctx)
    llm, method, note = get_chat_model(), "offline", ""
    if llm is not None:
        try:
            label, said = _ask_model(llm, params, latest)
            if label is not None:
                return _decision(params, latest, label, f"model: {said}", "model", None)
            note = f"the model answered {said!r}, not one of the labels; "
        except Exception as error:   # a provider error must not stop the run: decide offline and say so
            note = f"the model failed ({type(error).__name__}: {str(error)[:200]}); "
        method = "offline fallback"
    label, reason, compound = classify_offline(params.labels, latest["text"])
    return _decision(params, latest, label, f"{note}offline classifier: {reason}", method, compound)


def _decision(params: AiDecisionParams, latest: dict, label: str | None, reason: str, method: str,
              compound: float | None) -> dict[str, Any]:
    route = params.routes.get(label, params.default)
    return {"label": label, "reason": reason, "method": method, "next": route, "sentiment": compound,
            "text_kind": latest["kind"], "text_at": latest["occurred_at"], "text": latest["text"][:EXCERPT]}


def ai_decision(ctx: RunContext, step: Step) -> dict:
    params: AiDecisionParams = step.params
    return once(ctx, step.id, params.model_dump(mode="json"), lambda session, decided: decided,
                prepare=lambda: decide(ctx, params))

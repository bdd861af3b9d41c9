"""CRM text from templates: notes, call and meeting summaries, emails, support tickets.

A text is an opener whose tone follows the latent state (a lead's intent, an account's health),
zero or more fact sentences, and a closer. Each fact sentence plants one fact (competitor, budget,
objection, next_step, product_interest, complaint) and the renderer returns it, so the ground truth
knows exactly which text says what.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.demo import vocab


@dataclass
class Ctx:
    """What a text is about. `mood` is intent (leads) or health (accounts), roughly -2..2."""

    first: str
    company: str
    title: str
    service: str
    competitor: str
    budget: str
    objection: str
    next_step: str
    mood: float
    rep: str = ""


Fact = tuple[str, str]  # (fact_type, value)

LEAD_OPENERS = {
    "pos": ("{first} was upbeat and asked sharp questions about {service}.",
            "Great energy from {first} ({title}); they want to move quickly.",
            "{first} said {service} is a top priority this quarter.",
            "Very positive conversation with {first} at {company}.",
            "{first} is keen: they already shared their current numbers with us."),
    "mid": ("Spoke with {first} ({title}) at {company} about {service}.",
            "{first} is exploring options for {service}, no rush yet.",
            "Intro conversation with {first}; they are gathering information.",
            "{first} from {company} wanted a general overview of how we work.",
            "Checked in with {first} about their marketing plans."),
    "neg": ("{first} was lukewarm; {service} is not a priority right now.",
            "Short call, {first} seemed distracted and non-committal.",
            "{first} said they are busy and asked us to reach out later.",
            "Hard to get {first} engaged; they keep postponing.",
            "{first} is skeptical that an agency is worth it for {company}."),
}
ACCOUNT_OPENERS = {
    "pos": ("Monthly check-in with {first} went well: {praise}.",
            "{first} is happy with results; {praise}.",
            "Strong QBR with {company}: {praise}.",
            "{first} thanked the team, {praise}.",
            "Good momentum at {company}, {praise}."),
    "mid": ("Routine check-in with {first} at {company}.",
            "{first} asked for the usual monthly report on {service}.",
            "Status call with {company}; nothing urgent, a few small requests.",
            "Reviewed the {service} plan with {first}.",
            "{first} wants a clearer view of ROI on {service}."),
    "neg": ("{first} is frustrated: {complaint}.",
            "Tense call with {company}; {complaint}.",
            "{first} escalated again, says {complaint}.",
            "Escalation from {company}: {complaint}. Relationship is at risk.",
            "{first} is unhappy and questioned the value of the retainer; {complaint}."),
}
FACT_SENTENCES = {
    "competitor": ("They are also talking to {v}.", "{first} mentioned they are comparing us with {v}.",
                   "Competition: {v}.", "They got a quote from {v} last week."),
    "budget": ("Budget is around {v}.", "{first} indicated a budget of {v}.", "They can spend about {v}.",
               "Budget mentioned: {v}."),
    "objection": ("Main concern: {v}.", "Objection raised: {v}.", "{first} hesitated because {v}.",
                  "Pushback: {v}."),
    "next_step": ("Next step: {v}.", "Agreed to {v}.", "Action for us: {v}.", "We will {v}."),
    "product_interest": ("Most interested in {v}.", "They asked specifically about {v}.",
                         "{first} wants help with {v}.", "Interest: {v}."),
    "churn_competitor": ("{first} said they are considering switching to {v}.",
                         "Heard they met with {v} about taking over the account.",
                         "Risk: {v} is pitching them."),
}
CLOSERS = ("", "", "Logged by {rep}.", "Will update the deal.", "Follow-up task created.",
           "Notes shared with the team.")


def _mood(m: float, hi: float = 0.8, lo: float = -0.3) -> str:
    return "pos" if m > hi else ("neg" if m < lo else "mid")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _fact(rng, kind: str, value: str, c: Ctx) -> str:
    return _pick(rng, FACT_SENTENCES[kind]).format(v=value, first=c.first)


def lead_text(rng: np.random.Generator, c: Ctx, fact_rate: float = 0.45) -> tuple[str, list[Fact]]:
    """A note or call/meeting summary about a lead; tone follows intent; plants 0-3 facts."""
    parts = [_pick(rng, LEAD_OPENERS[_mood(c.mood)]).format(**c.__dict__)]
    facts: list[Fact] = []
    kinds = (("product_interest", c.service), ("budget", c.budget), ("competitor", c.competitor),
             ("objection", c.objection), ("next_step", c.next_step))
    for kind, value in kinds:
        bump = 0.15 if kind == "objection" and c.mood < 0 else 0.0
        if rng.random() < fact_rate * (0.6 if kind == "product_interest" else 0.45) + bump:
            parts.append(_fact(rng, kind, value, c))
            facts.append((kind, value))
    closer = _pick(rng, CLOSERS).format(rep=c.rep)
    if closer:
        parts.append(closer)
    return " ".join(parts), facts


def account_text(rng: np.random.Generator, c: Ctx) -> tuple[str, list[Fact]]:
    """A note about a customer; unhappy accounts complain and mention a rival pitching them."""
    mood = _mood(c.mood, hi=0.6, lo=-0.4)
    parts = [_pick(rng, ACCOUNT_OPENERS[mood]).format(
        praise=_pick(rng, vocab.PRAISES), complaint=_pick(rng, vocab.COMPLAINTS), **c.__dict__)]
    facts: list[Fact] = []
    if mood == "neg" and rng.random() < 0.35:
        parts.append(_fact(rng, "churn_competitor", c.competitor, c))
        facts.append(("competitor", c.competitor))
    if rng.random() < 0.3:
        parts.append(_fact(rng, "next_step", c.next_step, c))
        facts.append(("next_step", c.next_step))
    return " ".join(parts), facts


SALES_SUBJECTS = ("Quick idea for {company}", "{service} for {company}?", "Following up, {first}",
                  "Case study: {service} results", "Re: our conversation", "Proposal for {company}",
                  "Next steps on {service}", "{first}, 15 minutes this week?")
SALES_BODIES = ("Hi {first}, following up on {service} for {company}. We helped a similar business grow "
                "qualified leads by a third in six months. Would a short call this week work?",
                "Hi {first}, thanks for your time. As promised, here is a summary of how we would approach "
                "{service} at {company}, with a 90-day plan attached. Happy to walk you through it.",
                "Hello {first}, I put together a few ideas on {service} for {company}. Any feedback on the "
                "numbers I sent? {rep}",
                "Hi {first}, checking in: is {service} still on your roadmap? If timing is off, "
                "just say so and I will circle back next quarter.")
REPLY_BODIES = {
    "pos": ("Thanks {rep}, this looks promising. {facts}Can we talk on Thursday?",
            "Hi {rep}, the team liked it. {facts}Let's set up the next meeting.",
            "Appreciate the detail. {facts}Send over the contract when ready."),
    "mid": ("Thanks for the note. {facts}I will get back to you after I check internally.",
            "Hi {rep}, got it. {facts}Let me review with my team.",
            "Thanks. {facts}Could you send a bit more detail on pricing?"),
    "neg": ("Hi {rep}, not a good time for us. {facts}Maybe next quarter.",
            "Thanks, but we are holding off for now. {facts}",
            "Please reach out again later in the year. {facts}"),
}


def sales_email(rng: np.random.Generator, c: Ctx) -> tuple[str, str]:
    return (_pick(rng, SALES_SUBJECTS).format(**c.__dict__), _pick(rng, SALES_BODIES).format(**c.__dict__))


def reply_email(rng: np.random.Generator, c: Ctx) -> tuple[str, list[Fact]]:
    """A prospect's reply; replies are where budgets and rival quotes often surface."""
    facts: list[Fact] = []
    said = []
    for kind, value, rate in (("budget", c.budget, 0.25), ("competitor", c.competitor, 0.2),
                              ("objection", c.objection, 0.15)):
        if rng.random() < rate:
            said.append(_fact(rng, kind, value, c))
            facts.append((kind, value))
    text = _pick(rng, REPLY_BODIES[_mood(c.mood)]).format(rep=c.rep or "there",
                                                          facts="".join(s + " " for s in said))
    return text.strip(), facts


ACCOUNT_EMAIL_SUBJECTS = ("Your monthly {service} report", "{company}: results this month",
                          "Planning next month's {service}", "Quick question on the {service} budget",
                          "Invoice and report for {company}")
TICKET_BODIES = {
    "pos": ("Small request: {topic}. No rush.", "Could you look at {topic} when you have a moment?"),
    "mid": ("We have an issue: {topic}. Please advise.", "Reporting a problem with {topic}."),
    "neg": ("This is the third time: {topic}. We need this fixed today.",
            "Really disappointed, {topic} again. Escalating to our director.",
            "Urgent: {topic}. This is affecting our sales."),
}


def ticket(rng: np.random.Generator, c: Ctx) -> tuple[str, str, str]:
    """(subject, body, priority) of a support ticket; tone and priority follow health."""
    topic = _pick(rng, vocab.TICKET_TOPICS)
    mood = _mood(c.mood, hi=0.6, lo=-0.4)
    body = _pick(rng, TICKET_BODIES[mood]).format(topic=topic)
    priority = {"pos": "low", "mid": "normal", "neg": "high"}[mood]
    return f"Ticket: {topic}", body, priority


CAMPAIGN_BODIES = ("Our {theme} is out: practical steps you can apply this month. Read it in five minutes.",
                   "Join us for the {theme} - seats are limited. Agencies and brands share what worked.",
                   "New from the team: {theme}. See how brands like yours cut cost per lead.",
                   "{theme}: the checklist our strategists use with every new client.")


def campaign_email(rng: np.random.Generator, theme: str, n: int) -> tuple[str, str]:
    subjects = (f"{theme}", f"New: {theme}", f"{theme} (part {n})", f"Last chance: {theme}")
    return _pick(rng, subjects), _pick(rng, CAMPAIGN_BODIES).format(theme=theme)


QUESTIONS = {
    "competitor": "Which competitor did {company} mention?",
    "budget": "What budget did {company} mention?",
    "objection": "What objection did {company} raise?",
    "product_interest": "Which service is {company} interested in?",
    "next_step": "What next step was agreed with {company} on {date}?",
}

"""The signals read as cited reasons: each a sentence a person reads, pointing at the record it came from.

Pure functions of `Signals` (no database): the rules (`rules.py`) decide which of them make the case for an
action. Thresholds are named here so the decision reads as its rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from serving.citations import clip
from serving.concerns import Concern, Text, by_theme, find_concerns
from serving.next_action.model import Reason
from serving.next_action.signals import INBOUND, OpenDeal, Score, Signals, Touch
from serving.rag.chunking import split_sentences, strip_quoted
from serving.sentiment import RECENT_DAYS, score_text

HIGH_RISK_TIERS = ("A",)       # churn tier A: the riskiest tenth of accounts (models_ml tier shares)
ELEVATED_RISK_TIERS = ("B",)   # the next fifth
RISK_PROBABILITY = 0.5         # at or above: high risk whatever the tier
HOT_TIERS = ("A", "B")         # lead tiers A and B: the best third of leads
HOT_PROBABILITY = 0.5
NEGATIVE = -0.05               # VADER's negative threshold, as serving.sentiment reads it
DECLINE = 0.10                 # a fall of the mean this large is a declining trend (as serving.entity_facts)
EARLIER_DAYS = 90              # the trend compares the last RECENT_DAYS with the EARLIER_DAYS before
CLOSE_PROBABILITY = 0.5        # a deal at a stage this likely to win is one to close
CLOSE_WITHIN_DAYS = 14
STALLED_DAYS = 30              # an open deal this long at one stage has stalled
LABELS = {"note": "a note", "email_sent": "an email we sent", "email_replied": "an email reply", "call": "a call",
          "meeting": "a meeting", "support_ticket": "a support ticket", "form_submit": "a form submission"}


def _day(value: datetime) -> str:
    return value.date().isoformat()


def _days(now: datetime, then: datetime) -> int:
    return max(0, (now - then).days)


@dataclass
class Evidence:
    """Every reason the signals support, by what it says; the rules pick from these."""

    risk: Reason | None = None           # the churn risk (a company's, or a contact's company's)
    risk_level: str | None = None        # 'high' | 'elevated' | 'low'
    lead: Reason | None = None
    hot: bool = False
    overdue: list[Reason] = field(default_factory=list)
    overdue_titles: list[str] = field(default_factory=list)
    upcoming: list[tuple[datetime, str, Reason]] = field(default_factory=list)   # (due, title, reason), soonest first
    last_touch: Touch | None = None
    silent_days: int | None = None       # days since the last touch (since the record was added if none)
    silence: Reason | None = None
    unanswered: Reason | None = None
    unanswered_touch: Touch | None = None
    sentiment: Reason | None = None      # only when negative or declining
    sentiment_text: Text | None = None
    concerns: list[Reason] = field(default_factory=list)
    themes: list[tuple[str, list[Concern]]] = field(default_factory=list)
    closing: OpenDeal | None = None
    closing_reason: Reason | None = None
    stalled: OpenDeal | None = None
    stalled_reason: Reason | None = None


def _factors(score: Score, limit: int = 2) -> list[str]:
    """The factors that pushed the score up (for churn: towards risk), largest first."""
    up = sorted((f for f in score.factors if (f.get("impact") or 0) > 0), key=lambda f: -f["impact"])
    return [str(f.get("text") or f.get("feature")) for f in up[:limit]]


def score_reason(score: Score, label: str, meaning: str) -> Reason:
    """The score with the factors that pushed it up in the sentence; every factor of the row as the snippet."""
    factors = _factors(score)
    sentence = f"{label} {score.score}/100, tier {score.tier} ({score.probability:.0%} {meaning})"
    every = "; ".join(str(f.get("text") or f.get("feature")) for f in score.factors)
    return Reason(sentence + (": " + "; ".join(factors) if factors else "") + ".", "score", score.entity_id,
                  score.scored_at, every or None)


def risk_level(score: Score) -> str:
    if score.tier in HIGH_RISK_TIERS or score.probability >= RISK_PROBABILITY:
        return "high"
    return "elevated" if score.tier in ELEVATED_RISK_TIERS else "low"


def gather(sig: Signals) -> Evidence:
    ev = Evidence()
    account = sig.score if sig.entity_type == "company" else sig.account
    if account is not None:
        label = "Churn risk" if sig.entity_type == "company" else f"{sig.company.name}'s churn risk"
        ev.risk, ev.risk_level = score_reason(account, label, "churn probability"), risk_level(account)
    if sig.entity_type == "contact" and sig.score is not None:
        ev.lead = score_reason(sig.score, "Lead score", "likely to convert")
        ev.hot = sig.score.tier in HOT_TIERS or sig.score.probability >= HOT_PROBABILITY
    _tasks(sig, ev)
    _touches(sig, ev)
    _sentiment(sig, ev)
    _concerns(sig, ev)
    _deals(sig, ev)
    return ev


def _tasks(sig: Signals, ev: Evidence) -> None:
    for t in sig.tasks:
        if t.due_at is not None and t.due_at < sig.now:
            late = _days(sig.now, t.due_at)
            ev.overdue_titles.append(t.title)
            ev.overdue.append(Reason(f"Open task '{t.title}' was due {_day(t.due_at)}"
                                     f" ({late} day{'s' if late != 1 else ''} overdue).", "task", t.id, t.due_at))
        elif t.due_at is not None:
            reason = Reason(f"Open task '{t.title}' is due {_day(t.due_at)}.", "task", t.id, t.due_at)
            ev.upcoming.append((t.due_at, t.title, reason))


def _touches(sig: Signals, ev: Evidence) -> None:
    if sig.touches:
        last = ev.last_touch = sig.touches[0]
        ev.silent_days = _days(sig.now, last.occurred_at)
        ev.silence = Reason(f"No touch for {ev.silent_days} days: the last was {LABELS.get(last.kind, last.kind)} "
                            f"on {_day(last.occurred_at)}.", last.source_type, last.id, last.occurred_at,
                            last.subject)
        # their message is newer than anything we did after it: nobody has answered yet
        if last.kind in INBOUND:
            who = sig.people.get(last.contact_id or "")
            whose = f"{who.name}'s" if who else "Their"
            ev.unanswered_touch = last
            ev.unanswered = Reason(f"{whose} {LABELS[last.kind].removeprefix('an ').removeprefix('a ')} of "
                                   f"{_day(last.occurred_at)} has no answer on record yet.", "activity", last.id,
                                   last.occurred_at, last.subject)
    else:
        ev.silent_days = _days(sig.now, sig.created_at)
        ev.silence = Reason(f"No call, meeting, email or note on record since {sig.name} was added on "
                            f"{_day(sig.created_at)}.", sig.entity_type, sig.entity_id, sig.created_at)


def _compound(t: Text) -> float:
    return t.compound if t.compound is not None else score_text(t.body)


def _sentiment(sig: Signals, ev: Evidence) -> None:
    recent_start = sig.now - timedelta(days=RECENT_DAYS)
    earlier_start = recent_start - timedelta(days=EARLIER_DAYS)
    recent = [(t, _compound(t)) for t in sig.texts if t.occurred_at > recent_start]
    earlier = [_compound(t) for t in sig.texts if earlier_start < t.occurred_at <= recent_start]
    if not recent:
        return
    mean = sum(c for _, c in recent) / len(recent)
    before = sum(earlier) / len(earlier) if earlier else None
    negative, declining = mean <= NEGATIVE, before is not None and before - mean >= DECLINE
    if not (negative or declining):
        return
    worst, _ = min(recent, key=lambda tc: (tc[1], -tc[0].occurred_at.timestamp()))
    trend = "negative" if negative else "declining"
    then = f", against {before:+.2f} over the {len(earlier)} in the {EARLIER_DAYS} days before" if before is not None \
        else ""
    ev.sentiment_text = worst
    texts = f"{len(recent)} text{'s' if len(recent) != 1 else ''}"
    ev.sentiment = Reason(f"Sentiment is {trend}: mean {mean:+.2f} over {texts} in the last {RECENT_DAYS} days{then}; "
                          f"the most negative was {LABELS.get(worst.kind, worst.kind)} on {_day(worst.occurred_at)}.",
                          worst.source_type, worst.source_id, worst.occurred_at, clip(_most_negative(worst.body)))


def _most_negative(body: str) -> str:
    """The text's most negative sentence (the words that make it negative), verbatim."""
    sentences = split_sentences(strip_quoted(body)) or [body]
    return min(sentences, key=score_text)


def _concerns(sig: Signals, ev: Evidence, themes: int = 3) -> None:
    ev.themes = by_theme(find_concerns(sig.texts))
    for theme, mentions in ev.themes[:themes]:
        newest = mentions[0]
        who = sig.people.get(newest.text.contact_id or "")
        count = f"{len(mentions)} mention{'s' if len(mentions) != 1 else ''}"
        source = newest.text
        said = "mentioned a competitor or an alternative to us" if theme == "a competitor" else \
            f"raised a concern about {theme}"
        ev.concerns.append(Reason(f"{who.name if who else 'They'} {said} ({count}, latest in "
                                  f"{LABELS.get(source.kind, source.kind)} on {_day(source.occurred_at)}).",
                                  source.source_type, source.source_id, source.occurred_at, clip(newest.sentence)))


def _deals(sig: Signals, ev: Evidence) -> None:
    horizon = (sig.now + timedelta(days=CLOSE_WITHIN_DAYS)).date()
    for d in sig.deals:   # most valuable (amount x win probability) first
        closes = d.expected_close_date
        due_soon = closes is not None and closes <= horizon
        if ev.closing is None and (d.win_probability >= CLOSE_PROBABILITY or due_soon):
            ev.closing = d
            when = ("" if closes is None else f", past its expected close date {closes.isoformat()}"
                    if closes < sig.now.date() else f", expected to close {closes.isoformat()}")
            ev.closing_reason = Reason(f"Open deal '{d.name}' ({d.currency} {d.amount:,.0f}) is at stage {d.stage} "
                                       f"({d.win_probability:.0%} win probability){when}.", "deal", d.id, d.stage_since)
        stuck = _days(sig.now, d.stage_since)
        if ev.stalled is None and stuck >= STALLED_DAYS:
            ev.stalled = d
            ev.stalled_reason = Reason(f"Open deal '{d.name}' has been at stage {d.stage} for {stuck} days.", "deal",
                                       d.id, d.stage_since)

"""The next best action: transparent rules over the evidence, tried in order, the first that holds decides.

1. rescue_account  the account's churn risk is high (tier A or >= 50%), or elevated (tier B) and something
                   else says so too: negative or declining sentiment, a stated concern, an overdue task,
                   an unanswered message, or a month of silence.
2. close_deal      an open deal at a stage with >= 50% win probability, or expected to close within 14 days
                   (or already past that date).
3. follow_up       a message from them has no answer yet, a task is overdue or due by tomorrow, a hot lead
                   (tier A/B or >= 50%) has not been touched for 7 days, a deal has stalled for 30 days,
                   sentiment is negative, or a new record has never been contacted.
4. nurture         nothing is pending and the entity has gone 30 days without a touch.
5. wait            otherwise: touched recently, nothing pending; look again when the quiet period ends.

Each decision keeps the reasons that made its case first, then the rest that bear on the action, each cited.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from serving.next_action.evidence import LABELS, STALLED_DAYS, Evidence, gather
from serving.next_action.model import Reason, Recommendation
from serving.next_action.signals import Person, Signals

HOT_SILENT_DAYS = 7
QUIET_DAYS = 30            # a month without a touch: nurture, and a corroborating sign for an elevated risk
DUE_SOON_DAYS = 1         # a task due today or tomorrow is the next thing to do
NEW_DAYS = 14              # a record this new that nobody has contacted yet needs a first conversation
MAX_REASONS = 6
TOPICS = {"a competitor": "the competitor they mentioned", "price": "price", "contract terms": "contract terms",
          "reporting": "reporting", "results": "results", "timing": "timing", "sign-off": "sign-off",
          "service": "service quality"}


def _when(now: datetime, due: date) -> str:
    days = (due - now.date()).days
    return "today" if days <= 0 else "tomorrow" if days == 1 else "this week" if days <= 7 else f"by {due.isoformat()}"


def _person(sig: Signals, ev: Evidence) -> Person | None:
    """Whom to reach: the contact itself; for a company, the one who raised the newest concern, wrote the
    most negative recent text, or was last in touch."""
    if sig.entity_type == "contact":
        return sig.people.get(sig.entity_id)
    candidates = [*(m.text.contact_id for _, ms in ev.themes for m in ms[:1]),
                  ev.sentiment_text.contact_id if ev.sentiment_text else None,
                  *(t.contact_id for t in sig.touches)]
    return next((sig.people[c] for c in candidates if c in sig.people), None)


def _topic(ev: Evidence, fallback: str) -> str:
    return f"about {TOPICS.get(ev.themes[0][0], ev.themes[0][0])}" if ev.themes else fallback


def _reasons(*groups: Reason | list[Reason] | None) -> list[Reason]:
    out: list[Reason] = []
    for g in groups:
        for r in (g if isinstance(g, list) else [g]):
            if r is not None and r not in out:
                out.append(r)
    return out[:MAX_REASONS]


def decide(sig: Signals) -> Recommendation:
    ev = gather(sig)
    person = _person(sig, ev)
    who = person.name if person else sig.name
    for rule in (_rescue, _close, _follow_up, _nurture, _wait):
        made = rule(sig, ev, who)
        if made is not None:
            action, kind, priority, due, rule_text, reasons = made
            return Recommendation(sig.entity_type, sig.entity_id, sig.name, action, kind, priority, due, reasons,
                                  rule_text, person.id if person else None, person.name if person else None,
                                  sig.now)
    raise AssertionError("the wait rule always holds")


def _rescue(sig: Signals, ev: Evidence, who: str):
    quiet = ev.silence if (ev.silent_days or 0) >= QUIET_DAYS else None
    corroborating = _reasons(ev.sentiment, ev.concerns, ev.overdue, ev.unanswered, quiet)
    if ev.risk is None or not (ev.risk_level == "high" or (ev.risk_level == "elevated" and corroborating)):
        return None
    high = ev.risk_level == "high"
    due = sig.now.date() + timedelta(days=2 if high else 5)
    action = f"Call {who} {_when(sig.now, due)} {_topic(ev, 'to review how the account is going')}"
    why = ("churn risk is high (tier A or at least 50%)" if high
           else "churn risk is elevated (tier B) and other signs agree")
    return (action, "rescue_account", "high" if high else "medium", due, f"rescue_account: {why}",
            _reasons(ev.risk, ev.sentiment, ev.concerns[:2], ev.overdue, ev.unanswered, quiet, ev.concerns))


def _close(sig: Signals, ev: Evidence, who: str):
    deal = ev.closing
    if deal is None:
        return None
    closes = deal.expected_close_date
    soon = closes is not None and closes <= sig.now.date() + timedelta(days=7)
    due = sig.now.date() + timedelta(days=1 if soon else 3)
    if closes is not None and closes < sig.now.date():
        action = f"Confirm a new close date for '{deal.name}' with {who} {_when(sig.now, due)}"
    elif ev.themes:
        action = f"Answer {who}'s concern {_topic(ev, '')} to close '{deal.name}' {_when(sig.now, due)}"
    else:
        action = f"Agree the last steps to sign '{deal.name}' with {who} {_when(sig.now, due)}"
    return (action, "close_deal", "high" if soon else "medium", due,
            "close_deal: an open deal is likely to win (>= 50%) or due to close within 14 days",
            _reasons(ev.closing_reason, ev.concerns, ev.lead, ev.overdue,
                     ev.stalled_reason if ev.stalled is deal else None, ev.sentiment))


def _follow_up(sig: Signals, ev: Evidence, who: str):
    today = sig.now.date()
    silent = ev.silent_days or 0
    if ev.unanswered is not None:
        subject = ev.unanswered_touch.subject if ev.unanswered_touch else None
        about = f"about '{subject}'" if subject else _topic(ev, "")
        action, due, priority, first = f"Reply to {who} {about}".strip() + " today", today, "high", ev.unanswered
        why = "a message from them has no answer yet"
    elif ev.overdue:
        action, due, first = f"Finish the overdue task '{ev.overdue_titles[0]}' today", today, ev.overdue[0]
        priority = "high" if ev.hot else "medium"
        why = "a task is overdue"
    elif ev.upcoming and ev.upcoming[0][0].date() <= today + timedelta(days=DUE_SOON_DAYS):
        due_at, title, first = ev.upcoming[0]
        due = due_at.date()
        action, priority, why = f"Do '{title}' {_when(sig.now, due)}", "high" if ev.hot else "medium", \
            "a task is due today or tomorrow"
    elif ev.hot and silent >= HOT_SILENT_DAYS:
        due = today + timedelta(days=2)
        action = f"Email {who} {_when(sig.now, due)} {_topic(ev, 'about next steps')}"
        priority, first, why = "high", ev.silence, f"a hot lead has had no touch for {HOT_SILENT_DAYS}+ days"
    elif ev.stalled is not None:
        due = today + timedelta(days=3)
        action = f"Follow up with {who} {_when(sig.now, due)} to move '{ev.stalled.name}' on"
        priority, first, why = "medium", ev.stalled_reason, f"a deal has stalled {STALLED_DAYS}+ days"
    elif ev.sentiment is not None:
        due = today + timedelta(days=3)
        action = f"Check in with {who} {_when(sig.now, due)} {_topic(ev, 'about how things are going')}"
        priority, first, why = "medium", ev.sentiment, "sentiment is negative or declining"
    elif ev.last_touch is None and silent <= NEW_DAYS:
        due = today + timedelta(days=2)
        action = f"Reach out to {who} {_when(sig.now, due)} for a first conversation"
        priority, first, why = "medium", ev.silence, "a new record has never been contacted"
    else:
        return None
    return (action, "follow_up", priority, due, f"follow_up: {why}",
            _reasons(first, ev.lead, ev.risk, ev.overdue, ev.sentiment, ev.concerns, ev.silence))


def _nurture(sig: Signals, ev: Evidence, who: str):
    if (ev.silent_days or 0) < QUIET_DAYS:
        return None
    due = sig.now.date() + timedelta(days=14)
    action = (f"Send {who} a short results update {_when(sig.now, due)}" if ev.risk is not None
              else f"Add {who} to a nurture sequence {_when(sig.now, due)}")
    return (action, "nurture", "low", due, f"nurture: nothing pending and no touch for {QUIET_DAYS}+ days",
            _reasons(ev.silence, ev.lead, ev.risk, ev.concerns))


def _wait(sig: Signals, ev: Evidence, who: str):
    quiet = HOT_SILENT_DAYS if ev.hot else QUIET_DAYS
    last = ev.last_touch.occurred_at if ev.last_touch else sig.created_at
    due = max(last.date() + timedelta(days=quiet), sig.now.date() + timedelta(days=1))
    if ev.upcoming:
        due = min(due, ev.upcoming[0][0].date())
    last_reason = None
    if ev.last_touch is not None:
        t = ev.last_touch
        last_reason = Reason(f"Last touch {ev.silent_days} days ago: {LABELS.get(t.kind, t.kind)} on "
                             f"{t.occurred_at.date().isoformat()}.", t.source_type, t.id, t.occurred_at, t.subject)
    return (f"Wait: nothing is due; look at {who} again on {due.isoformat()}", "wait", "low", due,
            "wait: touched recently and nothing pending",
            _reasons(last_reason or ev.silence, [r for _, _, r in ev.upcoming[:1]], ev.lead, ev.risk))

"""Objections and complaints a client stated in its own notes, emails, calls and tickets, found sentence by sentence.

A sentence states a concern when it names a theme (price, a competitor, timing, ...) *and* reads as a concern:
it carries a concern word ("concern", "worried", "pushback", "too expensive", "late", "considering switching", ...)
or VADER reads the sentence itself as negative. Praise that names a theme ("reporting is clear and on time")
is no concern. Each finding keeps the sentence verbatim and the record it came from, so the reason built
from it cites that note or activity. Deterministic and offline: word lists, not a model.

For one account or lead the texts are few (tens), so every one is read: complete, where top-k retrieval
could miss the one note that said it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from serving.rag.chunking import split_sentences, strip_quoted
from serving.sentiment import score_text

# theme -> words that name it (matched at a word start, lower case). One theme per sentence, the first that
# matches in this order: the more specific themes first ("reports arrive late" is about reporting).
THEMES: dict[str, tuple[str, ...]] = {
    "a competitor": ("competitor", "switching to", "switch to", "comparing us", "compare us", "pitching them",
                     "another agency", "other agencies", "other agency", "in-house", "in house", "freelancer",
                     "taking over the account", "alternative", "rival"),
    "price": ("price", "pricing", "expensive", "cost", "budget", "afford", "cheaper", "discount", "fee",
              "invoice", "overspend", "billing"),
    "contract terms": ("contract", "month-to-month", "commitment", "terms", "notice period", "cancel", "renew",
                       "lock-in", "lock in"),
    "reporting": ("report", "dashboard", "tracking", "analytics"),
    "results": ("results", "roi", "return on", "performance", "leads dropped", "traffic", "cost per lead",
                "conversion", "proof", "case stud", "outside help"),
    "timing": ("next quarter", "right time", "wait until", "later this year", "on hold", "postpone",
               "not a priority", "next year", "fiscal year", "timing"),
    "sign-off": ("sign off", "sign-off", "approval", "approve", "board", "ceo", "decision maker", "procurement"),
    "service": ("slow", "response time", "account manager", "missed", "broken", "not working", "bug", "error",
                "support", "creative", "brief", "replies", "revisions"),
}
# Words that make a sentence naming a theme a concern, whatever its sentiment: whole words, or a stem with "*".
MARKERS = ("concern*", "worr*", "objection*", "pushback", "push back", "hesitat*", "complain*", "unhappy",
           "not happy", "frustrat*", "disappoint*", "issue*", "problem*", "too", "not sure", "doubt*", "risk*",
           "considering", "switching", "late", "dropped", "went up", "frozen", "can't", "cannot", "won't",
           "no longer", "instead", "unless", "only if", "pitching", "wait", "bad experience", "not convinced",
           "expensive", "cancel*", "not renew*", "flat", "missed", "broke*", "slow*", "not a priority",
           "has to", "have to", "must")
# Themes a mere mention of is a concern: a client naming a rival is comparing.
ALWAYS = ("a competitor",)
NEGATIVE = -0.05   # VADER's usual threshold for a negative sentence
_EXCEPT = {"report": r"(?!(?:ing|ed|s)? (?:a|an) )"}   # the verb: "reporting a problem" is no report
_THEME = {theme: re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) + _EXCEPT.get(w, "") for w in words) + ")")
          for theme, words in THEMES.items()}
_MARKER = re.compile("|".join(rf"(?<![\w-]){re.escape(m.rstrip('*'))}" + ("" if m.endswith("*") else r"(?![\w-])")
                              for m in MARKERS))


@dataclass(frozen=True)
class Text:
    """One of the entity's own texts: a note or a conversational activity (reply, call, meeting, ticket)."""

    source_type: str            # 'note' | 'activity'
    source_id: str
    kind: str                   # 'note' or the activity type
    occurred_at: datetime
    contact_id: str | None
    body: str
    compound: float | None = None   # its stored VADER sentiment, when the sentiment job has scored it


@dataclass(frozen=True)
class Concern:
    theme: str
    sentence: str               # verbatim from the text
    text: Text


def theme_of(sentence: str) -> str | None:
    lowered = sentence.lower()
    for theme, pattern in _THEME.items():
        if pattern.search(lowered):
            return theme
    return None


def is_concern(sentence: str, theme: str) -> bool:
    return theme in ALWAYS or _MARKER.search(sentence.lower()) is not None or score_text(sentence) <= NEGATIVE


def find_concerns(texts: Iterable[Text]) -> list[Concern]:
    """Every sentence of these texts that states a concern, newest text first."""
    found = []
    for t in sorted(texts, key=lambda t: t.occurred_at, reverse=True):
        for sentence in split_sentences(strip_quoted(t.body)):
            theme = theme_of(sentence)
            if theme is not None and is_concern(sentence, theme):
                found.append(Concern(theme, sentence, t))
    return found


def by_theme(concerns: list[Concern]) -> list[tuple[str, list[Concern]]]:
    """Themes with their mentions (newest first), most mentioned first, then most recent."""
    groups: dict[str, list[Concern]] = {}
    for c in concerns:
        groups.setdefault(c.theme, []).append(c)
    return sorted(groups.items(), key=lambda g: (-len(g[1]), -g[1][0].text.occurred_at.timestamp(), g[0]))

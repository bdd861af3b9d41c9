"""Objections and complaints a client stated in its own notes, emails, calls and tickets, found sentence by sentence.

One detector for the whole product: the next best action reads one entity's concerns with it, and the insights
agent resolves category questions ("which companies mentioned a competitor?", "... raised concerns about price")
through it over the whole agency (`theme_named`, `states`).

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
    "a competitor": ("competitor", "competition", "quote from", "quotes from", "proposal from", "switching to",
                     "switch to", "comparing us", "compare us", "pitching them",
                     "another agency", "other agencies", "other agency", "in-house", "in house", "freelancer",
                     "taking over the account", "alternative", "rival"),
    "price": ("price", "pricing", "expensive", "cost", "budget", "afford", "cheaper", "discount", "fee",
              "invoice", "overspend", "billing"),
    "contract terms": ("contract", "month-to-month", "commitment", "terms", "notice period", "cancel", "renew",
                       "lock-in", "lock in"),
    "reporting": ("report", "dashboard", "tracking", "analytics"),
    "results": ("results", "roi", "return on", "performance", "leads dropped", "traffic", "cost per lead",
                "conversion", "proof", "case stud", "outside help"),
    # "X is not a priority right now" is timing; "they feel they are not a priority" is service (neglect)
    "timing": ("next quarter", "right time", "wait until", "later this year", "on hold", "postpone",
               "not a priority right now", "not a priority at the moment", "not a priority this", "next year",
               "fiscal year", "timing"),
    "sign-off": ("sign off", "sign-off", "approval", "approve", "board", "ceo", "decision maker", "procurement"),
    "service": ("slow", "response time", "account manager", "missed", "broken", "not working", "bug", "error",
                "support", "creative", "brief", "replies", "revisions", "they are not a priority", "neglected"),
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
_EXCEPT = {"report": r"(?!(?:ing|ed|s)? (?:a|an) )",   # the verb: "reporting a problem" is no report
           "fee": r"(?!l)"}                           # "feel" is no fee
_THEME = {theme: re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) + _EXCEPT.get(w, "") for w in words) + ")")
          for theme, words in THEMES.items()}
_MARKER = re.compile("|".join(rf"(?<![\w-]){re.escape(m.rstrip('*'))}" + ("" if m.endswith("*") else r"(?![\w-])")
                              for m in MARKERS))


# Another agency named the ways notes name a rival: a cue, then a capitalised name ("comparing us with Adsmith",
# "a quote from Vertex Digital", "also talking to Hubbub Agency", "Competition: Catalyst & Co", "X is pitching
# them"). The names found so in an agency's own texts are its rivals (`rival_names`), so a later sentence naming
# one ("Adsmith sent them a deck") is about a competitor too. The cue alone is too loose ("talking to Grace").
_RIVAL_CUE = (r"(?i:compar(?:e|es|ed|ing) us (?:with|to|against)|quotes? from|proposals? from|(?:also )?talking to|"
              r"(?:also )?speaking (?:to|with)|switch(?:ing|ed)? to|moving (?:over )?to|(?:went|gone|going) with|"
              r"met with|pitched by|competition:|competitors?:|rivals?:)")
_NAME = r"(?P<name>[A-Z][\w'&-]*(?:\s+(?:&\s+)?[A-Z][\w'-]*){0,3})"
_RIVAL = (re.compile(rf"{_RIVAL_CUE}\s+{_NAME}"), re.compile(rf"{_NAME}\s+(?:is|are|was|were) pitching\b"))
_CALENDAR_AND_PRONOUNS = ("monday tuesday wednesday thursday friday saturday sunday january february march april "
                          "may june july august september october november december i we they he she it the their "
                          "our them us you")
_NOT_A_NAME = frozenset(_CALENDAR_AND_PRONOUNS.split())


def rival_names(texts: Iterable[str], people: set[str] = frozenset(), own: set[str] = frozenset()) -> set[str]:
    """Names that follow a rival cue in these texts' sentences, except the agency's people (lower-case first and last
    names: "talking to Grace Lee") and its own companies (lower-case names), calendar words and anything with
    a digit ("moving to Q3")."""
    names = set()
    for sentence in (s for t in texts for s in split_sentences(strip_quoted(t))):
        for pattern in _RIVAL:
            for m in pattern.finditer(sentence):
                name = m["name"].rstrip(".'-")
                words = [w.lower() for w in name.split() if w != "&"]
                if (not words or name.lower() in own or all(w in people for w in words)
                        or words[0] in _NOT_A_NAME or any(c.isdigit() for c in name) or len(name) < 3):
                    continue
                names.add(name)
    return names


def rival_pattern(names: Iterable[str]) -> re.Pattern | None:
    names = sorted(set(names), key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(r"\s+".join(map(re.escape, n.split())) for n in names) + r")(?!\w)")


def themes_in(sentence: str, rivals: re.Pattern | None = None) -> set[str]:
    """Every theme the sentence names (`theme_of` keeps the first); a competitor also when it names a rival."""
    lowered = sentence.lower()
    found = {theme for theme, pattern in _THEME.items() if pattern.search(lowered)}
    if rivals is not None and rivals.search(sentence):
        found.add("a competitor")
    return found


# What a question calls each theme: "a competitor", "an alternative", "another agency", "pricing", "the contract"...
_CATEGORY = {
    "a competitor": r"competitors?|(?:the )?competition|rivals?|alternatives?(?: to us)?|(?:another|other|a competing|"
                    r"a different|a new) (?:agenc(?:y|ies)|vendors?|suppliers?|providers?)|switching(?: agencies)?",
    "price": r"(?:the )?(?:price|prices|pricing|cost|costs|budget|fees?|money)",
    "contract terms": r"(?:the )?(?:contract(?: terms| length)?|terms|contracts|commitment)",
    "reporting": r"(?:the |our )?(?:reporting|reports?|dashboards?)",
    "results": r"(?:the |our )?(?:results|performance|roi)",
    "timing": r"(?:the )?timing",
    "sign-off": r"(?:the )?(?:sign[- ]off|approvals?)",
    "service": r"(?:the |our )?(?:service|support)",
}
_CATEGORY_RE = {theme: re.compile(rf"(?:(?:a|an|any|some|the)\s+)?(?:{words})", re.IGNORECASE)
                for theme, words in _CATEGORY.items()}
_CONCERN_WORDS = re.compile(r"^(?:(?:concerns?|objections?|worries|complaints?|issues?|problems?|doubts?)"
                            r"(?:\s+(?:about|over|with|on|regarding|around))?\s+)", re.IGNORECASE)


def theme_named(topic: str) -> str | None:
    """The theme a question's topic names as a category ("a competitor", "concerns about pricing"), or None
    for anything else (a name, a sentence, a product)."""
    topic = _CONCERN_WORDS.sub("", " ".join(topic.split()).strip(" ?.!,;:"))
    parts = re.split(r",?\s+(?:or|and|and/or)\s+|,\s*", topic)   # "a competitor or an alternative to us"
    themes = {next((theme for theme, pattern in _CATEGORY_RE.items() if pattern.fullmatch(p)), None) for p in parts}
    return themes.pop() if len(themes) == 1 else None


def states(text: str, theme: str, rivals: re.Pattern | None = None) -> str | None:
    """The first sentence of `text` that states a concern of `theme` (a competitor: names one), else None."""
    for sentence in split_sentences(strip_quoted(text)):
        if theme in themes_in(sentence, rivals) and is_concern(sentence, theme):
            return sentence
    return None


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

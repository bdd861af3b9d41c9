"""Does a sentence speak of a topic? Term matching (words or an exact name) with a semantic fallback.

Kept apart from the tools so the rule is one place: a topic that reads as a name ("Adsmith", "Pixel & Pine",
or anything in quotes) must appear as that phrase; a topic in plain words ("the price is above what they
planned", "reporting") matches a sentence holding every content word, by stem ("reporting" finds "reports").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_STOP = (
    "a an the and or of to in on at for with by from about as is are was were be been being it its this that "
    "these those they them their there we us our you your he she his her i me my any some all every which who "
    "whom what when where why how do does did doing have has had not no so than then too very can could would "
    "should will just also into over under up down out off again more most other such only own same "
    "mentioned mention mentions said say says talked talk raised raise complained complain asked ask")
STOPWORDS = frozenset(_STOP.split())
_DETERMINER = r"(?:a|an|the|this|that|these|those|my|our|your|their|his|her|its)\b"


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(topic: str) -> list[str]:
    return [w for w in _WORD.findall(topic) if w.lower() not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class TopicMatcher:
    topic: str
    phrase: re.Pattern | None        # names: the exact phrase
    stems: tuple[re.Pattern, ...]    # plain words: every stem, each at a word start

    @classmethod
    def of(cls, topic: str) -> TopicMatcher:
        topic = " ".join(topic.split()).strip(" ?.!,;:")
        quoted = re.fullmatch(r"[\"'\u201c\u2018](.+)[\"'\u201d\u2019]", topic)
        words = content_words(topic)
        is_name = bool(quoted) or (bool(words) and all(w[0].isupper() for w in words) and
                                   not topic.isupper() and len(words) <= 4)
        if is_name:
            text = quoted.group(1) if quoted else topic
            text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.IGNORECASE)
            phrase = r"\s+".join(re.escape(w) for w in text.split())
            return cls(topic, re.compile(rf"(?<!\w){phrase}(?!\w)", re.IGNORECASE), ())
        # a word followed by a determiner is a verb ("Reporting a problem with ...", "report the figures"): it is
        # not the topic ("reporting") however it is spelled
        return cls(topic, None, tuple(re.compile(rf"(?<!\w){re.escape(_stem(w))}\w*(?!\w)(?!\s+{_DETERMINER})",
                                                 re.IGNORECASE) for w in words))

    @property
    def usable(self) -> bool:
        return self.phrase is not None or bool(self.stems)

    def matches(self, sentence: str) -> bool:
        if self.phrase is not None:
            return bool(self.phrase.search(sentence))
        return bool(self.stems) and all(p.search(sentence) for p in self.stems)

"""What an answer cites: a record of the asking tenant, with the words that support the sentence."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Citation:
    # 'note' | 'activity' (retrieved text), 'score' | 'deal' | 'sentiment' (facts from PostgreSQL)
    source_type: str
    source_id: str
    snippet: str
    occurred_at: datetime | None

    def to_dict(self) -> dict:
        return asdict(self)


def clip(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A prefix of `text` (so the snippet is still verbatim), cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]

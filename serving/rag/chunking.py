"""Split a source text into passages small enough for MiniLM (it reads at most 256 word pieces).

Chunks are whole sentences packed up to ~600 characters, with the last sentence of one chunk repeated at
the start of the next so a fact that straddles a boundary is still found whole. Quoted history in email
replies ("> ...", "On ... wrote:") is dropped: it is already indexed as the earlier email.
"""

from __future__ import annotations

import re

MAX_CHARS = 600
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n{1,}")
_QUOTE_HEADER = re.compile(r"^On .{0,200} wrote:\s*$")


def strip_quoted(text: str) -> str:
    kept = []
    for line in text.splitlines():
        if _QUOTE_HEADER.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip() or text.strip()


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _hard_wrap(sentence: str, limit: int) -> list[str]:
    """A run-on 'sentence' longer than a chunk is cut at word boundaries."""
    pieces, current = [], ""
    for word in sentence.split():
        if current and len(current) + 1 + len(word) > limit:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return pieces + ([current] if current else [])


def chunk_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Passages of at most ~max_chars, in reading order; short texts stay one passage."""
    clean = strip_quoted(text)
    if len(clean) <= max_chars:
        return [clean] if clean else []
    sentences = [p for s in split_sentences(clean) for p in (_hard_wrap(s, max_chars) if len(s) > max_chars else [s])]
    chunks: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        if current and len(" ".join([*current, sentence])) > max_chars:
            chunks.append(" ".join(current))
            overlap = current[-1]
            current = [overlap] if len(overlap) + len(sentence) < max_chars else []
        current.append(sentence)
    if current:
        chunks.append(" ".join(current))
    return chunks

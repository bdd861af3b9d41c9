"""Helpers shared by page routes."""

from __future__ import annotations

import uuid

from dashboards.security import not_found_page


def parse_id(value: str, kind: str) -> uuid.UUID:
    """A malformed id in a URL is a missing page, not a validation error."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found_page(kind) from None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: `//evil.example` or `https://...` would make sign-in an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1

"""Ids from the outside world: the one place text becomes a UUID.

Every edge (an API path or body, a dashboard URL, a CLI argument, a filter string for LanceDB) parses ids
with `parse_uuid` and turns `InvalidId` into its own answer: a 422 problem in the API, a 404 page in the
dashboard (a malformed link is a missing page), one clear line in the CLI.
"""

from __future__ import annotations

import uuid


class InvalidId(ValueError):
    """A value meant as an id is not a UUID; the message names what was expected and what came."""


def parse_uuid(value: object, what: str = "id") -> uuid.UUID:
    """`value` as a UUID (a UUID, or its text in any spelling `uuid.UUID` accepts, surrounding spaces
    ignored); InvalidId for anything else, including None and numbers."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidId(f"{what} must be a UUID, not {type(value).__name__}")
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise InvalidId(f"{what} must be a UUID, not {value[:60]!r}") from None

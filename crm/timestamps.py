"""The range of instants the product stores: one rule for every input path and the database.

PostgreSQL accepts timestamps from 4713 BC, Python from year 1 and DuckDB's extract reads neither end
safely; a CRM has no business with either. Every timestamp a user or an integration sends must fall in
[EARLIEST, LATEST) once converted to UTC; a naive timestamp is read as UTC. The same bounds are CHECK
constraints in the schema (migration 0005), so a path that forgets this rule still cannot store one.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# The same bounds as SQL literals, for CHECK constraints and extract filters.
EARLIEST_SQL = "timestamptz '1900-01-01 00:00:00+00'"
LATEST_SQL = "timestamptz '2100-01-01 00:00:00+00'"


class TimestampOutOfRange(ValueError):
    """A timestamp outside [EARLIEST, LATEST): worded for the person who sent it."""


def bounded(value: datetime) -> datetime:
    """`value` as an aware datetime (naive = UTC), or TimestampOutOfRange when outside the bounds."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise TimestampOutOfRange(
            f"{value.isoformat()} is outside the supported range: timestamps must be from "
            f"{EARLIEST.date()} up to (not including) {LATEST.date()} UTC")
    return aware

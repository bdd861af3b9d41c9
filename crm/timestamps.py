"""The range of instants the product stores: one rule for every input path and the database.

PostgreSQL accepts timestamps from 4713 BC, Python from year 1 and DuckDB's extract reads neither end
safely; a CRM has no business with either. Every timestamp a user or an integration sends must fall in
[EARLIEST, LATEST) once converted to UTC; a naive timestamp is read as UTC. Calendar dates (a close date,
a campaign's first day) keep the same range, [EARLIEST_DATE, LATEST_DATE). The same bounds are CHECK
constraints in the schema (migration 0005) and the extract's filter, so a path that forgets this rule
still cannot store such a value, nor stop the warehouse with one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EARLIEST_DATE = EARLIEST.date()
LATEST_DATE = LATEST.date()
# The same bounds as SQL literals, for CHECK constraints and extract filters.
EARLIEST_SQL = "timestamptz '1900-01-01 00:00:00+00'"
LATEST_SQL = "timestamptz '2100-01-01 00:00:00+00'"
EARLIEST_DATE_SQL = "date '1900-01-01'"
LATEST_DATE_SQL = "date '2100-01-01'"
RANGE_TEXT = f"from {EARLIEST_DATE} up to (not including) {LATEST_DATE} UTC"


class TimestampOutOfRange(ValueError):
    """A timestamp or date outside the product's range: worded for the person who sent it."""


def bounded(value: datetime) -> datetime:
    """`value` as an aware datetime (naive = UTC), or TimestampOutOfRange when outside the bounds."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise TimestampOutOfRange(f"{value.isoformat()} is outside the supported range: timestamps must be "
                                  f"{RANGE_TEXT}")
    return aware


def bounded_date(value: date) -> date:
    """`value` unchanged, or TimestampOutOfRange when outside [EARLIEST_DATE, LATEST_DATE)."""
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise TimestampOutOfRange(f"{value.isoformat()} is outside the supported range: dates must be "
                                  f"{RANGE_TEXT}")
    return value


def in_range_sql(column: str, is_date: bool = False) -> str:
    """SQL that is true when `column` (already quoted if it needs to be) is NULL or within the range.

    Used for the CHECK constraints and the extract's split, so both say exactly what `bounded` says
    ('infinity' and BC values are outside)."""
    low, high = (EARLIEST_DATE_SQL, LATEST_DATE_SQL) if is_date else (EARLIEST_SQL, LATEST_SQL)
    return f"({column} is null or ({column} >= {low} and {column} < {high}))"

"""Test helpers that go below the app on purpose: lift one CHECK constraint, as an old install lacked it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from crm.db.engine import admin_engine


@contextmanager
def check_lifted(table: str, constraint: str) -> Iterator[None]:
    """Drop `constraint` for the block (so an out-of-range row can be planted as admin), then move what the
    block left outside the range to quarantine (as migration 0005 does) and put the same definition back."""
    with admin_engine().begin() as conn:
        definition = conn.execute(text(
            "select pg_get_constraintdef(oid) from pg_constraint "
            "where conname = :c and conrelid = cast(:t as regclass)"),
            {"c": constraint, "t": table}).scalar_one()
        conn.execute(text(f"alter table {table} drop constraint {constraint}"))
    try:
        yield
    finally:
        with admin_engine().begin() as conn:
            conn.execute(text("select quarantine_out_of_range()"))
            conn.execute(text(f"alter table {table} add constraint {constraint} {definition}"))


def admin_exec(sql: str, **params):
    """One statement as the admin (superuser, RLS does not apply); the first row's first value, if any."""
    with admin_engine().begin() as conn:
        result = conn.execute(text(sql), params)
        return result.scalar() if result.returns_rows else None

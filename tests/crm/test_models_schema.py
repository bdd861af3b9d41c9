"""The ORM models in crm/db/models.py agree with the database the migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CHAR, String

from crm.db.engine import admin_engine
from crm.db.models import Base

# The models map columns only; constraints, indexes and tables without a model live in the migrations.
COLUMN_OPS = {"add_column", "remove_column", "modify_nullable", "modify_type", "add_table"}


def _column_diffs() -> list:
    with admin_engine().connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    found = []
    for diff in diffs:
        for op in diff if isinstance(diff, list) else [diff]:
            name = op[0]
            if name not in COLUMN_OPS:
                continue
            if name == "remove_column" and op[2] not in Base.metadata.tables:
                continue
            if name == "modify_type" and isinstance(op[5], CHAR) and isinstance(op[6], String):
                continue  # char(3) read back as String(3): the same thing for the ORM
            found.append(op)
    return found


def test_models_match_migrated_schema():
    assert _column_diffs() == []


def test_every_model_column_exists_with_its_nullability():
    with admin_engine().connect() as conn:
        from sqlalchemy import inspect

        insp = inspect(conn)
        for table in Base.metadata.sorted_tables:
            db_cols = {c["name"]: c for c in insp.get_columns(table.name)}
            assert set(db_cols) == {c.name for c in table.columns}, table.name
            for col in table.columns:
                assert db_cols[col.name]["nullable"] == col.nullable, f"{table.name}.{col.name}"


def test_every_model_declares_the_primary_key_of_its_table():
    """compare_metadata does not compare primary keys: check them here. Distributed tables are keyed by
    (tenant_id, id) (migration 0009) while the ORM's identity stays `id` (crm.db.models.Distributed)."""
    from sqlalchemy import inspect

    with admin_engine().connect() as conn:
        insp = inspect(conn)
        for table in Base.metadata.sorted_tables:
            db_pk = insp.get_pk_constraint(table.name)
            assert db_pk["constrained_columns"] == [c.name for c in table.primary_key.columns], table.name
            assert db_pk["name"] == table.primary_key.name or table.primary_key.name is None, table.name

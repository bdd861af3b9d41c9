"""The live migrated schema meets Citus's rules for tables distributed by tenant_id (docs/scale-out.md).

Citus refuses a primary key, unique constraint or unique index on a distributed table that lacks the
distribution column, and a foreign key between distributed tables that does not pair the two distribution
columns; a reference table may not point at a distributed one. Read from pg_catalog as the admin.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from alembic import command
from sqlalchemy import text

from crm.db.distribution import DISTRIBUTION_COLUMN, LOCAL_TABLES, OWNED_SCHEMAS, REFERENCE_TABLES
from crm.db.engine import admin_engine, tenant_session
from crm.db.migrate import alembic_config
from crm.db.models import Company, Contact, Deal, Pipeline, PipelineStage
from tests.conftest import make_tenant


@dataclass(frozen=True)
class Table:
    oid: int
    name: str  # schema.table
    tenant_attnum: int | None


_TABLES = text("""
select c.oid, n.nspname || '.' || c.relname as name, a.attnum
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attribute a on a.attrelid = c.oid and a.attname = :col and not a.attisdropped
 where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any(:schemas)
""")

_UNIQUE_INDEXES = text("""
select i.indrelid, i.indkey::int2[] as keys, pg_get_indexdef(i.indexrelid) as definition
  from pg_index i where i.indisunique and i.indrelid = any(:oids)
""")

_PRIMARY_KEYS = text("""
select conrelid, conkey from pg_constraint where contype = 'p' and conrelid = any(:oids)
""")

_FOREIGN_KEYS = text("""
select conrelid, confrelid, conkey, confkey, conname from pg_constraint where contype = 'f' and conrelid = any(:oids)
""")


@pytest.fixture(scope="module")
def catalog() -> dict:
    with admin_engine().connect() as conn:
        tables = {r.oid: Table(r.oid, r.name, r.attnum)
                  for r in conn.execute(_TABLES, {"col": DISTRIBUTION_COLUMN, "schemas": list(OWNED_SCHEMAS)})}
        oids = list(tables)
        return {
            "tables": tables,
            "unique": conn.execute(_UNIQUE_INDEXES, {"oids": oids}).all(),
            "pkeys": {r.conrelid: list(r.conkey) for r in conn.execute(_PRIMARY_KEYS, {"oids": oids})},
            "fkeys": conn.execute(_FOREIGN_KEYS, {"oids": oids}).all(),
        }


def _distributed(catalog) -> dict[int, Table]:
    return {oid: t for oid, t in catalog["tables"].items()
            if t.tenant_attnum is not None and t.name not in REFERENCE_TABLES}


def test_every_table_is_distributed_reference_or_local(catalog):
    names = {t.name for t in catalog["tables"].values()}
    assert set(REFERENCE_TABLES) <= names, "a listed reference table is gone: update crm/db/distribution.py"
    assert set(LOCAL_TABLES) <= names, "a listed local table is gone: update crm/db/distribution.py"
    unplaced = sorted(t.name for t in catalog["tables"].values()
                      if t.tenant_attnum is None and t.name not in REFERENCE_TABLES and t.name not in LOCAL_TABLES)
    assert unplaced == [], f"tables without {DISTRIBUTION_COLUMN} that crm/db/distribution.py does not place"
    assert not set(REFERENCE_TABLES) & set(LOCAL_TABLES)


def test_distributed_primary_keys_include_tenant_id(catalog):
    missing = []
    for oid, table in _distributed(catalog).items():
        keys = catalog["pkeys"].get(oid)
        if keys is None:
            # Published marts (analytics.<mart>) are rebuilt whole by each publish and carry no key; Citus
            # distributes a table without one. Every table the migrations create has one.
            if not table.name.startswith("analytics."):
                missing.append(f"{table.name}: no primary key")
        elif table.tenant_attnum not in keys:
            missing.append(table.name)
    assert sorted(missing) == []


def test_distributed_unique_indexes_include_tenant_id(catalog):
    distributed = _distributed(catalog)
    missing = [row.definition for row in catalog["unique"]
               if row.indrelid in distributed and distributed[row.indrelid].tenant_attnum not in row.keys]
    assert sorted(missing) == []


def test_foreign_keys_between_distributed_tables_pair_tenant_id(catalog):
    tables, distributed = catalog["tables"], _distributed(catalog)
    wrong = []
    for fk in catalog["fkeys"]:
        source, target = tables[fk.conrelid], tables.get(fk.confrelid)
        if fk.conrelid not in distributed:
            continue
        if target is None or (fk.confrelid not in distributed and target.name not in REFERENCE_TABLES):
            wrong.append(f"{fk.conname}: points at a table that is neither distributed nor reference")
        elif fk.confrelid in distributed and (source.tenant_attnum, target.tenant_attnum) not in zip(
                fk.conkey, fk.confkey, strict=True):
            wrong.append(f"{fk.conname}: does not pair {source.name}.tenant_id with {target.name}.tenant_id")
    assert wrong == []


def test_reference_tables_point_only_at_reference_tables(catalog):
    tables = catalog["tables"]
    wrong = [fk.conname for fk in catalog["fkeys"]
             if tables[fk.conrelid].name in REFERENCE_TABLES
             and (fk.confrelid not in tables or tables[fk.confrelid].name not in REFERENCE_TABLES)]
    assert wrong == []


_CONSTRAINTS = text("""
select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
 where connamespace = 'public'::regnamespace and contype in ('p', 'u', 'f')
""")


def _alembic(conn, verb: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    getattr(command, verb)(cfg, revision)


def test_migration_0009_goes_down_and_up_again_with_rows_in_place():
    tid = make_tenant()["tenant_id"]
    with tenant_session(tid) as s:  # ORM inserts and gets keep working with (tenant_id, id) keys
        company = Company(tenant_id=tid, name="Acme")
        pipeline = Pipeline(tenant_id=tid, name="Sales")
        s.add_all([company, pipeline])
        s.flush()
        contact = Contact(tenant_id=tid, company_id=company.id, email="a@acme.test")
        stage = PipelineStage(tenant_id=tid, pipeline_id=pipeline.id, name="New", position=1)
        s.add_all([contact, stage])
        s.flush()
        deal = Deal(tenant_id=tid, name="Big", company_id=company.id, contact_id=contact.id,
                    pipeline_id=pipeline.id, stage_id=stage.id)
        s.add(deal)
    with admin_engine().begin() as conn:
        before = set(conn.execute(_CONSTRAINTS).all())
        _alembic(conn, "downgrade", "0008")
        assert conn.execute(text("select pg_get_constraintdef(oid) from pg_constraint "
                                 "where conname = 'companies_pkey'")).scalar() == "PRIMARY KEY (id)"
        _alembic(conn, "upgrade", "head")
        assert set(conn.execute(_CONSTRAINTS).all()) == before
    with tenant_session(tid) as s:
        assert s.get(Deal, deal.id).stage_id == stage.id

"""The audit log and the record-events outbox (migration 0016, crm.services.changes): append-only for the app
role, written in the write's own transaction (a rollback leaves neither), by the right actor on every path,
in a bounded number of statements however many rows a transaction writes, and isolated per agency."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from crm.db.engine import app_engine, app_url, psycopg_conninfo, set_tenant_sql, tenant_session
from crm.events import claim, emit
from crm.schemas.companies import CompanyCreate, CompanyUpdate
from crm.schemas.contacts import ContactCreate
from crm.services import companies, contacts
from crm.services.actor import Actor, actor_of, set_actor


def _audit_rows(tenant_id, **where) -> list:
    clause = "".join(f" and {k} = :{k}" for k in where)
    with tenant_session(tenant_id) as s:
        return s.execute(text(f"select * from audit_log where true{clause} order by id"), where).mappings().all()


def _events(tenant_id, **where) -> list:
    clause = "".join(f" and {k} = :{k}" for k in where)
    with tenant_session(tenant_id) as s:
        return s.execute(text(f"select * from record_events where true{clause} order by id"), where).mappings().all()


@pytest.fixture
def audited(tenant):
    """One audited company write in the tenant: the rows the app role then tries to rewrite."""
    with tenant_session(tenant["tenant_id"]) as s:
        companies.create(s, CompanyCreate(name="Acme"))
    return tenant


@pytest.mark.parametrize("statement", [
    "update audit_log set actor_label = 'someone else'",
    "delete from audit_log",
    "truncate audit_log",
])
def test_the_app_role_cannot_rewrite_the_audit_log(audited, statement):
    tid = audited["tenant_id"]
    with app_engine().connect() as conn:
        conn.execute(text(set_tenant_sql(uuid.UUID(tid))))
        with pytest.raises(ProgrammingError) as caught:
            conn.execute(text(statement))
        assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege)
        conn.rollback()
    assert len(_audit_rows(tid)) == 1


def test_the_app_role_may_add_audit_rows_of_its_own_tenant_only(audited, other_tenant):
    with app_engine().connect() as conn:
        conn.execute(text(set_tenant_sql(uuid.UUID(audited["tenant_id"]))))
        with pytest.raises(DBAPIError):   # RLS: WITH CHECK refuses another tenant's row
            conn.execute(text("insert into audit_log (tenant_id, actor_type, entity_type, entity_id, action) "
                              "values (:t, 'system', 'company', gen_random_uuid(), 'create')"),
                         {"t": other_tenant["tenant_id"]})
        conn.rollback()


def test_each_change_writes_one_audit_row_and_one_event_by_the_sessions_actor(tenant):
    tid = tenant["tenant_id"]
    actor = Actor("workflow_run", uuid.uuid4(), "run of 'Chase idle deals'")
    with tenant_session(tid) as s:
        assert actor_of(s).type == "system"
        set_actor(s, actor, request_id="req-1")
        acme = companies.create(s, CompanyCreate(name="Acme"))
        companies.update(s, acme, CompanyUpdate(name="Acme Ltd"))
        companies.update(s, acme, CompanyUpdate(name="Acme Ltd"))   # nothing changed: nothing recorded
        companies.delete(s, acme)
    rows = _audit_rows(tid, entity_id=acme.id)
    assert [r["action"] for r in rows] == ["create", "update", "delete"]
    assert {(r["actor_type"], r["actor_id"], r["actor_label"], r["request_id"]) for r in rows} == {
        ("workflow_run", actor.id, actor.label, "req-1")}
    assert rows[1]["changes"] == {"name": ["Acme", "Acme Ltd"]}
    events = _events(tid, entity_id=acme.id)
    assert [e["event_type"] for e in events] == ["company.created", "company.updated", "company.deleted"]
    assert [e["changes"] for e in events] == [r["changes"] for r in rows]
    assert {(e["entity_type"], e["actor_type"], e["actor_id"]) for e in events} == {("company", "workflow_run",
                                                                                     actor.id)}


def test_a_rolled_back_write_leaves_neither_audit_nor_event(tenant):
    tid = tenant["tenant_id"]
    with pytest.raises(RuntimeError), tenant_session(tid) as s:
        contacts.create(s, ContactCreate(email="gone@example.com"))
        raise RuntimeError("the request failed after the write")
    with tenant_session(tid) as s:
        with s.begin_nested():
            contacts.create(s, ContactCreate(email="kept@example.com"))
        savepoint = s.begin_nested()
        contacts.create(s, ContactCreate(email="refused@example.com"))
        savepoint.rollback()   # a refused dashboard form: the page's transaction goes on
        emails = s.execute(text("select email from contacts")).scalars().all()
    assert emails == ["kept@example.com"]
    created = [r["changes"]["email"][1] for r in _audit_rows(tid, entity_type="contact")]
    assert created == ["kept@example.com"]
    assert len(_events(tid, entity_type="contact")) == 1


def test_a_2000_row_csv_import_writes_its_audit_in_one_statement(tenant):
    from crm.imports import import_csv

    tid = tenant["tenant_id"]
    csv = "name,domain\n" + "".join(f"Company {i},c{i}.example\n" for i in range(2000))
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(app_engine(), "before_cursor_execute", count)
    try:
        report = import_csv(tid, "companies", csv.encode(), actor=Actor("import", None, "companies-2000.csv"))
    finally:
        event.remove(app_engine(), "before_cursor_execute", count)
    assert report.ok and report.created == 2000, report.errors
    audit_writes = [s for s in statements if "audit_log" in s]
    assert len(audit_writes) == 1, len(audit_writes)          # one multi-row statement for both tables
    assert sum("record_events" in s for s in statements) == 1
    rows = _audit_rows(tid, entity_type="company")
    assert len(rows) == 2000 and {(r["actor_type"], r["actor_label"]) for r in rows} == {
        ("import", "companies-2000.csv")}
    assert len(_events(tid, event_type="company.created")) == 2000


def test_landing_files_are_audited_as_the_pipeline(tenant, tmp_path):
    from crm.ingest.landing import load_file

    tid = tenant["tenant_id"]
    with tenant_session(tid) as s:
        contacts.create(s, ContactCreate(email="ann@acme.example"))
    landing = tmp_path / "calls.csv"
    landing.write_text("type,occurred_at,external_id,contact_email\ncall,2026-01-05T10:00:00Z,l-1,ann@acme.example\n")
    assert load_file(tid, landing).loaded == 1
    (row,) = _audit_rows(tid, entity_type="activity")
    assert (row["actor_type"], row["actor_label"], row["action"]) == ("pipeline", "landing file calls.csv", "create")
    assert row["changes"]["occurred_at"] == [None, "2026-01-05T10:00:00+00:00"]   # a datetime as ISO text


def test_the_operator_churn_mode_change_is_audited_on_the_tenant(tenant):
    from crm.tenancy import set_churn_mode

    set_churn_mode(tenant["tenant_id"], "activity")
    (row,) = _audit_rows(tenant["tenant_id"], entity_type="tenant")
    assert row["changes"] == {"churn_mode": ["contractual", "activity"]} and row["actor_type"] == "system"


def test_signals_are_events_not_audit_and_notify_consumers_at_commit(tenant):
    tid = tenant["tenant_id"]
    contact_id = uuid.uuid4()
    with psycopg.connect(psycopg_conninfo(app_url()), autocommit=True) as listener:
        listener.execute("listen crm_events")
        with tenant_session(tid) as s:
            emit(s, "lead_score.changed", "contact", contact_id,
                 {"probability": [0.41, 0.72], "tier": ["B", "A"]})
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []   # nothing before commit
        (note,) = listener.notifies(timeout=5, stop_after=1)
        assert (note.channel, note.payload) == ("crm_events", tid)
    assert _audit_rows(tid) == []
    (ev,) = _events(tid)
    assert (ev["event_type"], ev["entity_type"], ev["entity_id"]) == ("lead_score.changed", "contact", contact_id)
    assert ev["changes"] == {"probability": [0.41, 0.72], "tier": ["B", "A"]}
    with tenant_session(tid) as s:
        (claimed,) = claim(s, limit=10)
        assert claimed.event_type == "lead_score.changed" and claim(s, limit=10) == []
    assert _events(tid) == []


def test_another_agency_never_sees_the_audit_rows_or_events(audited, other_tenant):
    assert _audit_rows(other_tenant["tenant_id"]) == [] and _events(other_tenant["tenant_id"]) == []
    with tenant_session(other_tenant["tenant_id"]) as s:
        assert claim(s, limit=100) == []
    assert len(_audit_rows(audited["tenant_id"])) == 1 and len(_events(audited["tenant_id"])) == 1


def test_a_row_a_service_changes_by_sql_is_audited_too(tenant):
    """Making a pipeline the default clears the flag of the old one with one UPDATE statement: audited too."""
    from crm.schemas.pipelines import PipelineCreate
    from crm.services import pipelines

    tid = tenant["tenant_id"]
    with tenant_session(tid) as s:
        old = pipelines.create(s, PipelineCreate(name="Old", is_default=True))
    with tenant_session(tid) as s:
        new = pipelines.create(s, PipelineCreate(name="New", is_default=True))
    (cleared,) = _audit_rows(tid, entity_id=old.id, action="update")
    assert cleared["changes"] == {"is_default": [True, False]}
    assert [e["event_type"] for e in _events(tid, entity_id=old.id)] == ["pipeline.created", "pipeline.updated"]
    assert [r["action"] for r in _audit_rows(tid, entity_id=new.id)] == ["create"]


def test_a_write_reads_back_its_row_in_the_statement_that_records_it(tenant):
    """`write_pending_and_select`: the queued audit and event rows and the write's read-back go in one statement;
    the SELECT sees the row the transaction stored; nothing is written twice at commit; a rollback takes it all."""
    from crm.services.changes import write_pending_and_select

    tid = tenant["tenant_id"]
    select_sql = "select id, name, xmin::text as xmin from companies where id = %(id)s"
    statements: list[str] = []
    with tenant_session(tid) as s:
        event.listen(s.connection(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        acme = companies.create(s, CompanyCreate(name="Acme"))
        (row,) = write_pending_and_select(s, select_sql, {"id": acme.id})
        assert (row["id"], row["name"]) == (acme.id, "Acme") and row["xmin"]
        assert write_pending_and_select(s, select_sql, {"id": acme.id}) == [row]   # nothing pending: the SELECT
        with s.begin_nested(), pytest.raises(RuntimeError):
            write_pending_and_select(s, select_sql, {"id": acme.id})   # only the top transaction's changes
    written = [sql for sql in statements if "insert into audit_log" in sql]
    assert len(written) == 1 and written[0].lstrip().startswith("with")   # the read-back's, none at commit
    assert [r["action"] for r in _audit_rows(tid, entity_id=acme.id)] == ["create"]
    assert [e["event_type"] for e in _events(tid, entity_id=acme.id)] == ["company.created"]

    with pytest.raises(RuntimeError), tenant_session(tid) as s:
        gone = companies.create(s, CompanyCreate(name="Gone"))
        write_pending_and_select(s, select_sql, {"id": gone.id})
        raise RuntimeError("the request failed after the read-back")
    assert _audit_rows(tid, entity_id=gone.id) == [] and _events(tid, entity_id=gone.id) == []

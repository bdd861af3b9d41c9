"""The live refresh outbox (migration 0010, crm.live_queue): every write path queues the entities it touched in
its own transaction, a rolled-back write queues nothing, a tenant sees and claims only its own rows, a claim
rolled back leaves them, and the refresher is woken by NOTIFY."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from crm import live_queue
from crm.db.engine import admin_engine, tenant_session
from crm.db.migrate import alembic_config
from crm.db.models import Company, Deal
from crm.imports import import_csv
from crm.ingest.landing import load_file
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.schemas.notes import NoteCreate
from crm.schemas.pipelines import PipelineCreate
from crm.services import companies, contacts, deals, notes, pipelines
from tests.conftest import make_tenant


def _refresh_rows(tenant_id) -> set[tuple[str, str, str]]:
    with tenant_session(tenant_id) as s:
        return {(r.entity_type, str(r.entity_id), r.source_table) for r in s.execute(text(
            "select entity_type, entity_id, source_table from live_refresh_queue"))}


def _index_rows(tenant_id) -> set[tuple[str, str]]:
    with tenant_session(tenant_id) as s:
        return {(r.source_type, str(r.source_id)) for r in s.execute(text(
            "select source_type, source_id from live_index_queue"))}


def _drain(tenant_id) -> None:
    with tenant_session(tenant_id) as s:
        live_queue.claim_refresh(s, 100_000)
        live_queue.forget_index(s, [r.id for r in live_queue.claim_index(s, 100_000)])


def _company_and_contact(tenant_id) -> tuple[str, str]:
    with tenant_session(tenant_id) as s:
        company = companies.create(s, CompanyCreate(name="Acme"))
        contact = contacts.create(s, ContactCreate(email=f"{uuid.uuid4().hex[:8]}@example.com", company_id=company.id))
        return str(company.id), str(contact.id)


# ---- every write path queues, in its own transaction -------------------------------------------------------

def test_a_service_write_queues_what_it_touched_in_its_transaction(tenant):
    t = tenant["tenant_id"]
    company_id, contact_id = _company_and_contact(t)
    assert _refresh_rows(t) == {("company", company_id, "companies"), ("contact", contact_id, "contacts"),
                                ("company", company_id, "contacts")}
    _drain(t)
    with tenant_session(t) as s:
        note = notes.create(s, NoteCreate(body="They loved the pitch", contact_id=uuid.UUID(contact_id)))
        # visible inside the writing transaction already: the queue row is part of the write
        assert ("contact", contact_id, "notes") in {(r.entity_type, str(r.entity_id), r.source_table)
                                                   for r in live_queue.claim_refresh(s, 10)}
    assert _refresh_rows(t) == set()   # claimed (deleted) in that same transaction
    assert _index_rows(t) == {("note", str(note.id))}


def test_a_rolled_back_write_queues_nothing(tenant):
    t = tenant["tenant_id"]
    with pytest.raises(RuntimeError), tenant_session(t) as s:
        companies.create(s, CompanyCreate(name="Ghost"))
        s.flush()
        raise RuntimeError("the request failed after the write")
    assert _refresh_rows(t) == set() and _index_rows(t) == set()


def test_one_statement_queues_each_entity_once_and_moves_queue_old_and_new(tenant):
    t = tenant["tenant_id"]
    company_id, contact_id = _company_and_contact(t)
    other_id, _ = _company_and_contact(t)
    _drain(t)
    with tenant_session(t) as s:   # a bulk statement, as the demo loader's INSERT ... SELECT
        s.execute(text("insert into activities (tenant_id, type, occurred_at, contact_id, company_id) "
                       "select app_tenant_id(), 'web_visit', now() - make_interval(mins => g), :c, :co "
                       "from generate_series(1, 300) g"), {"c": contact_id, "co": company_id})
    with tenant_session(t) as s:
        rows = s.execute(text("select entity_type, entity_id from live_refresh_queue")).all()
        assert sorted((r.entity_type, str(r.entity_id)) for r in rows) == [("company", company_id),
                                                                          ("contact", contact_id)]
        assert s.scalar(text("select count(*) from live_index_queue where source_type = 'activity'")) == 300
    _drain(t)
    with tenant_session(t) as s:   # a contact moving to another company touches both companies
        s.execute(text("update contacts set company_id = :o where id = :c"), {"o": other_id, "c": contact_id})
    assert _refresh_rows(t) == {("contact", contact_id, "contacts"), ("company", company_id, "contacts"),
                                ("company", other_id, "contacts")}


def test_deal_moves_and_deletes_queue_the_deals_lead_and_account(tenant):
    t = tenant["tenant_id"]
    company_id, contact_id = _company_and_contact(t)
    with tenant_session(t) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", is_default=True))
        won = next(st for st in pipelines.stages_of(s, pipeline.id) if st.name == "Won")
        deal = deals.create(s, DealCreate(name="Retainer", contact_id=uuid.UUID(contact_id),
                                          company_id=uuid.UUID(company_id)))
    _drain(t)
    with tenant_session(t) as s:
        deals.update(s, s.get(Deal, deal.id), DealUpdate(stage_id=won.id))
    sources = {(e, i, src) for e, i, src in _refresh_rows(t)}
    assert {("contact", contact_id, "deal_stage_history"), ("company", company_id, "deal_stage_history"),
            ("contact", contact_id, "deals"), ("company", company_id, "deals")} <= sources
    _drain(t)
    with tenant_session(t) as s:   # a delete cascades: notes' company_id set null is a write too
        notes.create(s, NoteCreate(body="kick-off", company_id=uuid.UUID(company_id)))
    _drain(t)
    with tenant_session(t) as s:
        companies.delete(s, s.get(Company, uuid.UUID(company_id)))
    assert {("company", company_id, "companies"), ("company", company_id, "contacts"),
            ("company", company_id, "notes"), ("company", company_id, "deals")} <= _refresh_rows(t)


def test_events_landing_files_and_csv_import_queue(tenant, tmp_path):
    from app.web import app

    t = tenant["tenant_id"]
    company_id, contact_id = _company_and_contact(t)
    _drain(t)
    with TestClient(app) as client:
        r = client.post("/api/v1/events", headers=tenant["headers"], json={"events": [
            {"type": "email_replied", "occurred_at": "2026-01-05T10:00:00Z", "external_id": "e1",
             "contact_id": contact_id, "body": "Yes, let's talk"}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert _refresh_rows(t) == {("contact", contact_id, "activities"), ("company", company_id, "activities")}
    assert [kind for kind, _ in _index_rows(t)] == ["activity"]
    _drain(t)

    landed = tmp_path / "events.csv"
    landed.write_text(f"type,occurred_at,contact_id,external_id\nweb_visit,2026-01-06T10:00:00Z,{contact_id},w1\n"
                      "web_visit,not-a-time,,w2\n")
    result = load_file(t, landed)
    assert result.loaded == 1 and result.quarantined == 1
    assert _refresh_rows(t) == {("contact", contact_id, "activities"), ("company", company_id, "activities")}
    _drain(t)

    report = import_csv(t, "contacts", b"E-mail,First Name\nnew@example.com,Ann\n")
    assert report.ok and report.created == 1
    assert [(kind, src) for kind, _, src in _refresh_rows(t)] == [("contact", "contacts")]


# ---- claiming ----------------------------------------------------------------------------------------------

def test_a_claim_rolled_back_leaves_the_rows_and_skip_locked_shares_them(tenant):
    t = tenant["tenant_id"]
    _company_and_contact(t)
    waiting = _refresh_rows(t)
    with pytest.raises(RuntimeError), tenant_session(t) as s:
        assert len(live_queue.claim_refresh(s, 100)) == 3
        raise RuntimeError("the refresher died mid-batch")
    assert _refresh_rows(t) == waiting
    with tenant_session(t) as first:
        claimed = live_queue.claim_refresh(first, 2)
        with tenant_session(t) as second:   # a second consumer skips the locked rows instead of waiting
            rest = live_queue.claim_refresh(second, 100)
        assert len(claimed) == 2 and len(rest) == 1 and [r.id for r in claimed] == sorted(r.id for r in claimed)
    assert _refresh_rows(t) == set()


def test_a_claim_takes_exactly_its_limit_from_a_long_backlog(tenant):
    """A claim written as `delete ... where id in (select ... limit n for update skip locked)` took all 2,000
    rows here: PostgreSQL re-ran the subquery per row, and each run locked the next n."""
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        s.execute(text("insert into companies (tenant_id, name) select app_tenant_id(), 'c' || g "
                       "from generate_series(1, 2000) g"))
    with tenant_session(t) as s:
        claimed = live_queue.claim_refresh(s, 10)
    assert len(claimed) == 10 and len({r.id for r in claimed}) == 10
    assert len(_refresh_rows(t)) == 1990


def test_index_rows_stay_until_forgotten_and_depth_counts_them(tenant):
    t = tenant["tenant_id"]
    _, contact_id = _company_and_contact(t)
    with tenant_session(t) as s:
        for body in ("one", "two"):
            notes.create(s, NoteCreate(body=body, contact_id=uuid.UUID(contact_id)))
    with tenant_session(t) as s:
        d = live_queue.depth(s)
        assert d["index"]["rows"] == 2 and d["refresh"]["rows"] >= 1 and d["index"]["oldest_queued_at"] is not None
        claimed = live_queue.claim_index(s, 1)
    assert len(claimed) == 1 and len(_index_rows(t)) == 2   # locked, not removed
    with tenant_session(t) as s:
        assert live_queue.forget_index(s, [claimed[0].id]) == 1
    assert len(_index_rows(t)) == 1


def test_a_tenant_sees_claims_and_writes_only_its_own_queue(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    _company_and_contact(a)
    assert a in live_queue.pending_tenants("refresh")
    with tenant_session(b) as s:
        assert live_queue.claim_refresh(s, 1000) == [] and live_queue.claim_index(s, 1000) == []
        assert live_queue.depth(s)["refresh"]["rows"] == 0
    assert len(_refresh_rows(a)) == 3
    with pytest.raises(ProgrammingError, match="row-level security"), tenant_session(b) as s:
        s.execute(text("insert into live_refresh_queue (tenant_id, entity_type, entity_id, source_table) "
                       "values (:a, 'contact', gen_random_uuid(), 'forged')"), {"a": a})
    with tenant_session(b) as s:   # B's bulk delete of "everything" touches only B's rows
        s.execute(text("delete from live_refresh_queue"))
    assert len(_refresh_rows(a)) == 3


def test_pending_tenants_lists_each_waiting_tenant_once(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    for t in (a, b, a):
        _company_and_contact(t)
    pending = live_queue.pending_tenants("refresh")
    assert {a, b} <= set(pending) and len(pending) == len(set(pending))
    _drain(a)
    assert a not in live_queue.pending_tenants("refresh") and b in live_queue.pending_tenants("refresh")
    assert live_queue.total_depth()["refresh"] >= 3


def test_a_write_notifies_the_listener_at_commit(tenant):
    t = tenant["tenant_id"]
    with live_queue.LiveListener() as listener:
        listener.wait(0.01)   # whatever other tests left
        with tenant_session(t) as s:
            companies.create(s, CompanyCreate(name="Loud"))
            s.flush()
            assert t not in listener.wait(0.2)   # not before the commit
        assert t in listener.wait(10)


def test_a_tenant_with_queued_rows_can_still_be_deleted():
    t = make_tenant("Leaving")["tenant_id"]
    _company_and_contact(t)
    with admin_engine().begin() as conn:   # its cascading deletes fire the triggers after the tenant is gone
        conn.execute(text("delete from tenants where id = :t"), {"t": t})
    with admin_engine().connect() as conn:
        assert conn.scalar(text("select count(*) from live_refresh_queue where tenant_id = :t"), {"t": t}) == 0


def test_migration_0010_goes_down_and_up_again():
    with admin_engine().begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
        assert conn.scalar(text("select to_regclass('live_refresh_queue')")) is None
        command.upgrade(cfg, "head")
    t = make_tenant()["tenant_id"]
    company_id, _ = _company_and_contact(t)
    assert ("company", company_id, "companies") in _refresh_rows(t)


def test_a_claim_takes_every_queued_row_of_the_entities_it_claims(tenant):
    """The refresh answers all of an entity's waiting changes at once: a contact written in three statements
    is claimed (and refreshed) once, its later rows included, and other entities stay queued."""
    t = tenant["tenant_id"]
    _, contact_id = _company_and_contact(t)   # queues the contact (and its company)
    other = _company_and_contact(t)[1]
    for body in ("one", "two"):
        with tenant_session(t) as s:
            notes.create(s, NoteCreate(body=body, contact_id=uuid.UUID(contact_id)))
    with tenant_session(t) as s:
        first = s.execute(text("select entity_type, entity_id from live_refresh_queue order by id limit 1")).one()
        claimed = live_queue.claim_refresh(s, 1)
    assert {(r.entity_type, str(r.entity_id)) for r in claimed} == {(first.entity_type, str(first.entity_id))}
    assert len(claimed) >= 2  # the company: queued by its own insert and again by its contact's
    left = _refresh_rows(t)
    assert (first.entity_type, str(first.entity_id)) not in {(e, i) for e, i, _ in left}
    assert ("contact", other) in {(e, i) for e, i, _ in left}

"""The live refresh outbox (migration 0010, crm.live_queue): every write path queues the entities it touched in
its own transaction, a rolled-back write queues nothing, a tenant sees and claims only its own rows, a claim
rolled back leaves them, and the refresher is woken by NOTIFY."""

from __future__ import annotations

import datetime as dt
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
        claimed = live_queue.claim_refresh(first, 1)   # the newest row, with its entity's other rows
        with tenant_session(t) as second:   # a second consumer skips the locked rows instead of waiting
            rest = live_queue.claim_refresh(second, 100)
        assert claimed and rest and len(claimed) + len(rest) == 3
        assert {r.id for r in claimed}.isdisjoint(r.id for r in rest)
        assert [r.id for r in rest] == sorted(r.id for r in rest)
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
    is claimed (and refreshed) once, its earlier rows included, and other entities stay queued."""
    t = tenant["tenant_id"]
    _, contact_id = _company_and_contact(t)   # queues the contact (and its company)
    other = _company_and_contact(t)[1]
    for body in ("one", "two"):
        with tenant_session(t) as s:
            notes.create(s, NoteCreate(body=body, contact_id=uuid.UUID(contact_id)))
    with tenant_session(t) as s:
        first = s.execute(text("select entity_type, entity_id from live_refresh_queue order by id desc limit 1")).one()
        claimed = live_queue.claim_refresh(s, 1)
    assert {(r.entity_type, str(r.entity_id)) for r in claimed} == {(first.entity_type, str(first.entity_id))}
    assert len(claimed) >= 2  # the company: queued by its own insert and again by its contact's
    left = _refresh_rows(t)
    assert (first.entity_type, str(first.entity_id)) not in {(e, i) for e, i, _ in left}
    assert ("contact", other) in {(e, i) for e, i, _ in left}


def test_a_change_just_written_is_claimed_before_a_long_backlog_and_the_backlog_still_drains(tenant):
    """A first run's bulk load queues every entity of the agency: a claim takes the newest half and the oldest
    half of the queue, so a live change is answered by the next claim and the backlog's head moves too."""
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        s.execute(text("insert into companies (tenant_id, name) select app_tenant_id(), 'c' || g "
                       "from generate_series(1, 2000) g"))
        oldest = s.scalar(text("select min(id) from live_refresh_queue"))
    live_id, _ = _company_and_contact(t)
    with tenant_session(t) as s:
        claimed = live_queue.claim_refresh(s, 10)
    assert live_id in {str(r.entity_id) for r in claimed}
    assert oldest in {r.id for r in claimed}
    assert len(claimed) >= 10 and len(_refresh_rows(t)) == 2003 - len(claimed)

    _, contact_id = _company_and_contact(t)
    with tenant_session(t) as s:
        s.execute(text("insert into notes (tenant_id, body, contact_id) select app_tenant_id(), 'n' || g, :c "
                       "from generate_series(1, 300) g"), {"c": contact_id})
        first_note = s.scalar(text("select min(id) from live_index_queue"))
    with tenant_session(t) as s:
        live_note = notes.create(s, NoteCreate(body="call me back today", contact_id=uuid.UUID(contact_id)))
    with tenant_session(t) as s:
        taken = live_queue.claim_index(s, 4)
    assert [r.id for r in taken] == sorted(r.id for r in taken) and len(taken) == 4
    assert first_note in {r.id for r in taken} and str(live_note.id) in {str(r.source_id) for r in taken}


def _mark(s, *entity_types: str) -> None:
    for entity_type in entity_types:
        live_queue.mark_batch(s, entity_type, dt.datetime.now(dt.UTC))


def test_a_batch_pass_settles_what_both_scored_types_saw_and_nothing_committed_after(tenant):
    t = tenant["tenant_id"]
    _company_and_contact(t)
    before = _refresh_rows(t)
    with tenant_session(t) as s:   # a lead pass alone answers no row: a contact's change moves its account too
        _mark(s, "lead")
        assert live_queue.settle_batch(s) == 0
    company_id, _ = _company_and_contact(t)   # committed after the lead pass looked
    with tenant_session(t) as s:
        _mark(s, "account")
        assert live_queue.settle_batch(s) == len(before)
    assert ("company", company_id, "companies") in _refresh_rows(t) and not before & _refresh_rows(t)

    with tenant_session(t) as writer:   # in flight while a pass looks, committed before the pass settles
        companies.create(writer, CompanyCreate(name="Late"))
        writer.flush()
        with tenant_session(t) as s:
            _mark(s, "lead", "account")
            writer.commit()
            waiting = _refresh_rows(t)
            assert live_queue.settle_batch(s) == len(waiting) - 1
    assert [(e, src) for e, _, src in _refresh_rows(t)] == [("company", "companies")]


def test_a_batch_pass_leaves_rows_a_refresher_holds_and_marks_are_per_tenant(tenant, other_tenant):
    a, b = tenant["tenant_id"], other_tenant["tenant_id"]
    _company_and_contact(a)
    _company_and_contact(b)
    with tenant_session(b) as s:
        _mark(s, "lead", "account")
        assert live_queue.settle_batch(s) == 3
    assert len(_refresh_rows(a)) == 3   # B's pass saw A's rows committed, and settled none of them
    with tenant_session(a) as refresher:
        held = live_queue.claim_refresh(refresher, 1)
        with tenant_session(a) as s:
            _mark(s, "lead", "account")
            assert live_queue.settle_batch(s) == 3 - len(held)
    with admin_engine().connect() as conn:
        marks = conn.execute(text("select tenant_id::text, entity_type from live_batch_marks "
                                  "where tenant_id = any(cast(:t as uuid[]))"), {"t": [a, b]}).all()
    assert sorted(marks) == sorted((t, e) for t in (a, b) for e in ("lead", "account"))

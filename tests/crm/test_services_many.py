"""Set-based service writes (`tasks.create_many`, `notes.create_many`, `deals.update_many`): the same rows, rules,
audit and outbox rows as the single-record services, each change attributed to its own actor."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from crm.db.engine import tenant_session
from crm.db.models import Deal, DealStageHistory, Note, Task
from crm.schemas.companies import CompanyCreate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.schemas.notes import NoteCreate
from crm.schemas.pipelines import PipelineCreate, StageCreate
from crm.schemas.tasks import TaskCreate
from crm.services import companies, deals, notes, pipelines, tasks
from crm.services.actor import Actor, set_actor
from crm.services.changes import recorded
from crm.services.errors import InvalidReference, NotFound


def _actors(n: int) -> list[Actor]:
    return [Actor("workflow_run", uuid.uuid4(), f"run {i}") for i in range(n)]


def test_many_writes_make_the_rows_and_one_audited_change_each_by_its_actor(tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", stages=[
            StageCreate(name="Open"), StageCreate(name="Won", is_won=True)]))
        won = next(st for st in pipelines.stages_of(s, pipeline.id) if st.is_won)
        a, b = (deals.create(s, DealCreate(name=n, amount=Decimal("10"))) for n in ("A", "B"))
        set_actor(s, Actor("system", None, "the session's"))
        actors = _actors(5)
        task_ids = tasks.create_many(s, [TaskCreate(title="Call A", deal_id=a.id),
                                         TaskCreate(title="Done B", deal_id=b.id, is_done=True)], actors[:2])
        note_ids = notes.create_many(s, [NoteCreate(body="noted", deal_id=a.id)], actors=actors[2:3])
        moved = deals.update_many(s, [(a.id, DealUpdate(stage_id=won.id)), (b.id, DealUpdate(amount=Decimal("20"))),
                                      (a.id, DealUpdate(lost_reason="twice"))], [*actors[3:5], None])
        assert [d.id for d in moved] == [a.id, b.id, a.id]
        mine = [c for c in recorded(s) if c.id in {*task_ids, *note_ids}
                or (c.id in {a.id, b.id} and c.action == "update")]
        assert [(c.entity, c.action) for c in mine] == [("tasks", "create"), ("tasks", "create"), ("notes", "create"),
                                                        ("deals", "update"), ("deals", "update"), ("deals", "update")]
        assert mine[3].changes["status"] == ["open", "won"] and mine[4].changes == {"amount": [Decimal("10"),
                                                                                               Decimal("20")]}
        assert mine[5].changes == {"lost_reason": [None, "twice"]}   # applied after the move, in order
    with tenant_session(t) as s:
        assert s.get(Task, task_ids[1]).done_at is not None and s.get(Task, task_ids[0]).done_at is None
        assert s.get(Note, note_ids[0]).deal_id == a.id
        deal = s.get(Deal, a.id)
        assert (deal.status, deal.lost_reason, deal.closed_at is not None) == ("won", "twice", True)
        assert s.scalar(select(DealStageHistory.to_stage_id).where(DealStageHistory.deal_id == a.id)
                        .order_by(DealStageHistory.changed_at.desc()).limit(1)) == won.id
        rows = s.execute(text("select entity_id, actor_type, actor_id, actor_label from audit_log "
                              "where entity_id = any(:ids) and action <> 'create' or entity_id = any(:new) "
                              "order by id"), {"ids": [a.id, b.id], "new": [*task_ids, *note_ids]}).all()
        assert [(r.actor_id, r.actor_label) for r in rows] == [(x.id, x.label) for x in actors] + [
            (None, "the session's")]
        events = s.scalar(text("select count(*) from record_events where entity_id = any(:ids)"),
                          {"ids": [*task_ids, *note_ids, a.id, b.id]})
        assert events >= 6   # the outbox: one per change (the dispatcher of this test process takes none)


def test_many_writes_refuse_another_agencys_records_and_missing_ones(tenant, other_tenant):
    with tenant_session(other_tenant["tenant_id"]) as s:
        theirs = companies.create(s, CompanyCreate(name="Victim")).id
    with tenant_session(tenant["tenant_id"]) as s:
        pipelines.create(s, PipelineCreate(name="Sales", stages=[StageCreate(name="Open")]))
        mine = deals.create(s, DealCreate(name="Mine")).id
        with pytest.raises(InvalidReference) as refused:
            tasks.create_many(s, [TaskCreate(title="ok"), TaskCreate(title="spy", company_id=theirs)])
        assert refused.value.field == "company_id"
        with pytest.raises(NotFound):
            deals.update_many(s, [(mine, DealUpdate(amount=Decimal("1"))), (uuid.uuid4(), DealUpdate(amount=1))])

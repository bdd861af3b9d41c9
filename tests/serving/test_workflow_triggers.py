"""Triggers on real PostgreSQL: every trigger type fires on its event and on no other, conditions are read on
the record as it is, AI signals are emitted by the real score and sentiment writers, and a trigger fires exactly
once per event however many dispatchers race (100 concurrent updates -> 100 runs). Scans are idempotent."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from crm import scores
from crm.db.engine import admin_session, tenant_session
from crm.db.models import Deal
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.schemas.notes import NoteCreate
from crm.schemas.pipelines import PipelineCreate, StageCreate
from crm.services import companies, contacts, deals, notes, pipelines
from crm.services.actor import Actor, set_actor
from crm.services.errors import NotFound
from crm.workflows import service as workflows
from crm.workflows.runs import start_run
from crm.workflows.triggers import matches
from serving.sentiment import score_pending
from serving.workflows import scans
from serving.workflows.dispatch import dispatch, dispatch_tenant
from tests.conftest import make_tenant

STEPS = [{"id": "note", "type": "add_note", "params": {"body": "seen by a workflow"}}]


def _event(event_type: str, changes: dict, entity_type: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(event_type=event_type, entity_type=entity_type or event_type.split(".")[0],
                           changes=changes)


# ---- matches: the pure rules ----------------------------------------------------------------------------------

def test_record_trigger_reads_entity_action_changed_fields_and_target_values():
    stage = str(uuid.uuid4())
    moved = {"type": "record", "entity": "deal", "actions": ["update"], "changed": ["stage_id"],
             "to": {"stage_id": stage}}
    assert matches(moved, _event("deal.updated", {"stage_id": [str(uuid.uuid4()), stage]}))
    assert not matches(moved, _event("deal.updated", {"stage_id": [stage, str(uuid.uuid4())]}))   # moved away
    assert not matches(moved, _event("deal.updated", {"amount": ["1", "2"]}))                     # other field
    assert not matches(moved, _event("deal.created", {"stage_id": [None, stage]}))                # other action
    assert not matches(moved, _event("contact.updated", {"stage_id": [None, stage]}))             # other entity
    lifecycle = {"type": "record", "entity": "contact", "changed": ["lifecycle_stage"]}
    assert matches(lifecycle, _event("contact.updated", {"lifecycle_stage": ["lead", "customer"]}))
    assert not matches(lifecycle, _event("contact.updated", {"email": ["a@x.io", "b@x.io"]}))
    assert matches({"type": "record", "entity": "note", "actions": ["delete"]}, _event("note.deleted", {}))
    assert not matches({"type": "record", "entity": "note"}, _event("lead_score.changed", {}, "note"))


def test_score_triggers_cross_enter_and_rise():
    crosses = {"type": "lead_score", "crosses_above": 70}
    assert matches(crosses, _event("lead_score.changed", {"probability": [0.5, 0.71], "tier": ["B", "A"]}, "contact"))
    assert matches(crosses, _event("lead_score.changed", {"probability": [None, 0.9], "tier": [None, "A"]}, "contact"))
    assert not matches(crosses, _event("lead_score.changed", {"probability": [0.8, 0.9], "tier": ["A", "A"]},
                                       "contact"))   # already above
    assert not matches(crosses, _event("lead_score.changed", {"probability": [0.9, 0.5], "tier": ["A", "B"]},
                                       "contact"))   # going down
    assert not matches(crosses, _event("churn_risk.changed", {"probability": [0.1, 0.9], "tier": ["D", "A"]},
                                       "company"))   # not a lead score
    tier_a = {"type": "lead_score", "enters_tier": "A"}
    assert matches(tier_a, _event("lead_score.changed", {"probability": [0.6, 0.61], "tier": ["B", "A"]}, "contact"))
    assert not matches(tier_a, _event("lead_score.changed", {"probability": [0.8, 0.9], "tier": ["A", "A"]},
                                      "contact"))
    rises = {"type": "churn_risk", "rises_by": 20}
    assert matches(rises, _event("churn_risk.changed", {"probability": [0.3, 0.5], "tier": ["C", "B"]}, "company"))
    assert not matches(rises, _event("churn_risk.changed", {"probability": [0.3, 0.49], "tier": ["C", "B"]},
                                     "company"))
    assert not matches(rises, _event("churn_risk.changed", {"probability": [None, 0.9], "tier": [None, "A"]},
                                     "company"))   # a first score rises from nothing
    assert matches({"type": "churn_risk", "enters_tier": "A"},
                   _event("churn_risk.changed", {"probability": [0.5, 0.6], "tier": ["B", "A"]}, "company"))


def test_sentiment_trigger_fires_when_the_label_turns_to_it():
    negative = {"type": "sentiment", "turns": "negative"}
    turned = _event("sentiment.changed", {"sentiment": [0.4, -0.3], "label": ["positive", "negative"]}, "company")
    assert matches(negative, turned)
    assert matches({**negative, "entity": "company"}, turned)
    assert not matches({**negative, "entity": "contact"}, turned)
    assert not matches(negative, _event("sentiment.changed", {"sentiment": [-0.3, 0.4],
                                                              "label": ["negative", "positive"]}, "company"))
    for scanned in ({"type": "inactivity", "entity": "deal", "days": 3}, {"type": "schedule", "every_minutes": 5},
                    {"type": "manual"}, {"type": "webhook"}):
        assert not matches(scanned, turned) and not matches(scanned, _event("deal.updated", {"amount": [1, 2]}))


# ---- dispatch on real events --------------------------------------------------------------------------------

def _setup_deals(tenant_id: str, n: int = 1) -> tuple[list[uuid.UUID], dict[str, uuid.UUID]]:
    with tenant_session(tenant_id) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", is_default=True, stages=[
            StageCreate(name="New"), StageCreate(name="Proposal"), StageCreate(name="Won", is_won=True)]))
        stages = {st.name: st.id for st in pipelines.stages_of(s, pipeline.id)}
        made = [deals.create(s, DealCreate(name=f"Deal {i}", amount=500 + i)).id for i in range(n)]
    return made, stages


def _workflow(tenant_id: str, trigger: dict, conditions: list | None = None, enabled: bool = True) -> uuid.UUID:
    with tenant_session(tenant_id) as s:
        return workflows.create(s, name=f"wf {trigger['type']}", enabled=enabled,
                                definition={"trigger": trigger, "conditions": conditions or [], "steps": STEPS}).id


def _runs(tenant_id: str, workflow_id: uuid.UUID) -> list:
    with tenant_session(tenant_id) as s:
        return s.execute(text("select trigger_key, entity_type, entity_id, status from workflow_runs "
                              "where workflow_id = :w order by queued_at"), {"w": workflow_id}).all()


def _drain(tenant_id: str) -> None:
    while dispatch_tenant(tenant_id).events:
        pass


def _update_deal(tenant_id: str, deal_id: uuid.UUID, **changes) -> None:
    with tenant_session(tenant_id) as s:
        deals.update(s, s.get(Deal, deal_id), DealUpdate(**changes))


def test_record_trigger_and_conditions_on_the_record_as_it_is(tenant):
    t = tenant["tenant_id"]
    (big, small), stages = _setup_deals(t, 2)
    _update_deal(t, big, amount=5000)
    moved = _workflow(t, {"type": "record", "entity": "deal", "actions": ["update"], "changed": ["stage_id"],
                          "to": {"stage_id": str(stages["Proposal"])}},
                      conditions=[{"field": "amount", "op": "gt", "value": 1000}])
    disabled = _workflow(t, {"type": "record", "entity": "deal"}, enabled=False)
    _drain(t)
    _update_deal(t, big, name="Big deal renamed")        # another field: no run
    _update_deal(t, big, stage_id=stages["Proposal"])    # moved, amount 5000: a run
    _update_deal(t, small, stage_id=stages["Proposal"])  # moved, amount 501: the condition fails
    _update_deal(t, small, stage_id=stages["Won"])       # moved elsewhere: no run
    _drain(t)
    runs = _runs(t, moved)
    assert [(r.entity_type, r.entity_id, r.status) for r in runs] == [("deal", big, "queued")]
    assert runs[0].trigger_key.startswith("event:")
    assert _runs(t, disabled) == []
    with tenant_session(t) as s:   # every event was consumed
        assert s.scalar(text("select count(*) from record_events")) == 0


def test_score_writes_emit_signals_and_fire_score_triggers(tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        company = companies.create(s, CompanyCreate(name="Acme"))
        people = [contacts.create(s, ContactCreate(email=f"p{i}-{uuid.uuid4().hex[:6]}@example.com",
                                                   company_id=company.id)).id for i in range(3)]
    crosses = _workflow(t, {"type": "lead_score", "crosses_above": 70})
    tier_a = _workflow(t, {"type": "lead_score", "enters_tier": "A"})
    rises = _workflow(t, {"type": "churn_risk", "rises_by": 20})
    _drain(t)

    def publish(entity_type: str, rows: list[tuple], batch: bool = False) -> None:
        now = dt.datetime.now(dt.UTC)
        with tenant_session(t) as s:   # the live refresh's write, or the batch run's (every entity of the type)
            (scores.publish if batch else scores.refresh)(s, entity_type, [
                {"entity_id": str(i), "score": round(p * 100), "probability": p, "tier": tier, "factors": "[]",
                 "model_name": "m", "model_version": "1", "model_kind": "learned", "scored_at": now}
                for i, p, tier in rows], [])

    publish("lead", [(people[0], 0.50, "B"), (people[1], 0.75, "A"), (people[2], 0.20, "D")])
    publish("account", [(company.id, 0.30, "C")])
    _drain(t)
    # first scores: 0.75 crossed 70 and entered A from nothing; a churn risk's first score rises from nothing
    assert [r.entity_id for r in _runs(t, crosses)] == [people[1]]
    assert [r.entity_id for r in _runs(t, tier_a)] == [people[1]]
    assert _runs(t, rises) == []
    publish("lead", [(people[0], 0.72, "A"), (people[1], 0.755, "A"), (people[2], 0.205, "D")])
    publish("account", [(company.id, 0.55, "B")], batch=True)
    with tenant_session(t) as s:   # half a point is not a move: no event for people[1] or people[2]
        signals = s.execute(text("select event_type, entity_id, changes from record_events "
                                 "where event_type like '%.changed' order by id")).all()
    assert [(e.event_type, e.entity_id) for e in signals] == [("lead_score.changed", people[0]),
                                                               ("churn_risk.changed", company.id)]
    assert signals[0].changes == {"probability": [0.5, 0.72], "tier": ["B", "A"]}
    _drain(t)
    assert {r.entity_id for r in _runs(t, crosses)} == {people[0], people[1]}
    assert [r.entity_id for r in _runs(t, rises)] == [company.id]


def test_sentiment_turning_negative_is_emitted_by_the_sentiment_writer(tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        company = companies.create(s, CompanyCreate(name="Moody Ltd"))
        contact = contacts.create(s, ContactCreate(email=f"m-{uuid.uuid4().hex[:6]}@example.com",
                                                   company_id=company.id))
        notes.create(s, NoteCreate(body="Great call, they love the proposal!", contact_id=contact.id,
                                   company_id=company.id))
    turned = _workflow(t, {"type": "sentiment", "turns": "negative", "entity": "company"})
    with tenant_session(t) as s:
        score_pending(s, contact_ids=[contact.id], company_ids=[company.id])
    _drain(t)
    assert _runs(t, turned) == []   # it turned positive
    with tenant_session(t) as s:
        for body in ("Terrible outage, they are furious and angry.", "Awful support, a horrible and bad week."):
            notes.create(s, NoteCreate(body=body, contact_id=contact.id, company_id=company.id))
    with tenant_session(t) as s:
        score_pending(s, contact_ids=[contact.id], company_ids=[company.id])
    with tenant_session(t) as s:   # (events are written at commit)
        events = s.execute(text("select entity_type, entity_id, changes->'label' as label from record_events "
                                "where event_type = 'sentiment.changed' order by entity_type")).all()
    assert [(e.entity_type, e.entity_id, e.label) for e in events] == [
        ("company", company.id, ["positive", "negative"]), ("contact", contact.id, ["positive", "negative"])]
    _drain(t)
    assert [(r.entity_type, r.entity_id) for r in _runs(t, turned)] == [("company", company.id)]


def test_100_concurrent_updates_make_exactly_100_runs_with_two_dispatchers_racing(tenant):
    t = tenant["tenant_id"]
    deal_ids, stages = _setup_deals(t, 100)
    moved = _workflow(t, {"type": "record", "entity": "deal", "actions": ["update"], "changed": ["stage_id"]})
    _drain(t)
    writing = threading.Event()
    writing.set()
    claimed: list[int] = []

    def dispatcher() -> None:
        while True:
            idle = writing.is_set() is False
            report = dispatch_tenant(t, limit=7)   # small batches: many claims interleave
            claimed.append(report.events)
            if idle and not report.events:
                return

    racers = [threading.Thread(target=dispatcher) for _ in range(2)]
    for racer in racers:
        racer.start()
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda d: _update_deal(t, d, stage_id=stages["Proposal"]), deal_ids))
    writing.clear()
    for racer in racers:
        racer.join(60)
    runs = _runs(t, moved)
    assert len(runs) == 100
    assert {r.entity_id for r in runs} == set(deal_ids)
    assert len({r.trigger_key for r in runs}) == 100
    assert sum(claimed) == 100   # each event claimed once, by one of the two


def _age(tenant_id: str, deal_id: uuid.UUID, days: int) -> None:
    # test set-up only: move a deal's creation and its stage moves back in time (no service writes history; the
    # row triggers are off for this transaction)
    with admin_session() as s:
        s.execute(text("set local session_replication_role = replica"))
        s.execute(text("update deals set created_at = now() - make_interval(days => :d) where tenant_id = :t "
                       "and id = :i"), {"d": days, "t": tenant_id, "i": deal_id})
        s.execute(text("update deal_stage_history set changed_at = now() - make_interval(days => :d) "
                       "where tenant_id = :t and deal_id = :i"), {"d": days, "t": tenant_id, "i": deal_id})


def test_inactivity_and_schedule_scans_are_idempotent(tenant, other_tenant):
    t = tenant["tenant_id"]
    (quiet, closed, busy), stages = _setup_deals(t, 3)
    _update_deal(t, closed, stage_id=stages["Won"])
    idle = _workflow(t, {"type": "inactivity", "entity": "deal", "days": 14},
                     conditions=[{"field": "status", "op": "eq", "value": "open"}])
    hourly = _workflow(t, {"type": "schedule", "every_minutes": 60})
    with tenant_session(t) as s:   # a note three days ago: busy is not quiet
        notes.create(s, NoteCreate(body="Checked in", deal_id=busy,
                                   occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)))
    for deal in (quiet, closed, busy):
        _age(t, deal, 20)
    now = dt.datetime.now(dt.UTC)
    assert t in scans.scan(now).tenants
    assert t not in scans.scan(now).tenants   # the same scan again: nothing new
    runs = _runs(t, idle)
    assert [r.entity_id for r in runs] == [quiet]   # closed fails the condition, busy is not quiet
    day = (now - dt.timedelta(days=20)).date().isoformat()
    assert runs[0].trigger_key == f"inactivity:{quiet}:{day}"
    slot = scans.slot_start(now, 60)
    assert [r.trigger_key for r in _runs(t, hourly)] == [f"schedule:{slot.isoformat()}"]
    scans.scan(now + dt.timedelta(minutes=60))   # the next slot: one more
    assert len(_runs(t, hourly)) == 2 and len(_runs(t, idle)) == 1
    assert _runs(other_tenant["tenant_id"], idle) == []   # RLS: the other agency sees none of it


def test_dispatch_visits_every_tenant_and_isolates_their_workflows():
    a, b = make_tenant("Disp A")["tenant_id"], make_tenant("Disp B")["tenant_id"]
    (deal_a,), _ = _setup_deals(a)
    (deal_b,), _ = _setup_deals(b)
    wf_a = _workflow(a, {"type": "record", "entity": "deal", "actions": ["update"]})
    _update_deal(a, deal_a, amount=900)
    _update_deal(b, deal_b, amount=900)
    report = dispatch()
    assert a in report.tenants and report.events >= 1
    # b has no workflow and no subscription: its event is dropped, not offered to anyone
    assert b not in report.tenants and report.dropped >= 1
    with tenant_session(b) as s:
        assert s.execute(text("select count(*) from record_events")).scalar() == 0
    assert [r.entity_id for r in _runs(a, wf_a)] == [deal_a]   # b's event never reaches a's workflow
    assert _runs(b, wf_a) == []
    with pytest.raises(NotFound), tenant_session(b) as s:   # and b cannot start a's workflow
        start_run(s, wf_a, "manual:x", {"type": "manual"}, None, None)


def test_a_runs_own_writes_never_start_its_own_workflow_again(tenant):
    t = tenant["tenant_id"]
    (deal,), _ = _setup_deals(t)
    on_update = _workflow(t, {"type": "record", "entity": "deal", "actions": ["update"]})
    other = _workflow(t, {"type": "record", "entity": "deal", "actions": ["update"]})
    with tenant_session(t) as s:
        run_id = start_run(s, on_update, "manual:loop", {"type": "manual"}, "deal", deal)
    _drain(t)
    with tenant_session(t) as s:   # a step of that run writes the deal, as the runner does: as the run
        set_actor(s, Actor("workflow_run", run_id, "workflow loop"))
        deals.update(s, s.get(Deal, deal), DealUpdate(name="Touched by a workflow"))
    _drain(t)
    assert [r.trigger_key for r in _runs(t, on_update)] == ["manual:loop"]   # no second run of itself
    assert [r.entity_id for r in _runs(t, other)] == [deal]                  # another workflow still fires

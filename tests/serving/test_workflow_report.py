"""The "AI suggests improvements" report on constructed data in real PostgreSQL: enrolled tier-A leads that
truly convert more often than tier-A leads left out; a thin sample that must not be called; the intervals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from crm.db.engine import tenant_session
from crm.db.models import Deal
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.schemas.pipelines import PipelineCreate, StageCreate
from crm.scores import publish
from crm.services import companies, contacts, deals, pipelines, records
from crm.workflows import service
from serving.workflows.report import newcombe, wilson, workflow_report
from tests.conftest import make_tenant

LEAD_A = {"trigger": {"type": "lead_score", "enters_tier": "A"},
          "steps": [{"id": "call", "type": "create_task", "params": {"title": "Call", "due_in_minutes": 60}}]}


def _agency(enrolled: int, enrolled_won: int, similar: int, similar_won: int, tier_c: int = 0) -> tuple:
    """An agency whose tier-A leads are partly enrolled in a workflow; `*_won` of each group win a deal
    after the enrolment. `tier_c` tier-C leads, also winning, must not count as similar."""
    tenant = make_tenant("Report agency")
    with tenant_session(tenant["tenant_id"]) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", stages=[StageCreate(name="New"),
                                                                            StageCreate(name="Won", is_won=True)]))
        won = pipelines.stages_of(s, pipeline.id)[1].id
        people = [contacts.create(s, ContactCreate(email=f"p{i}@example.com")).id
                  for i in range(enrolled + similar + tier_c)]
        scored = datetime.now(UTC) - timedelta(hours=1)
        publish(s, "lead", [{"entity_id": str(c), "score": 80, "probability": 0.8,
                             "tier": "A" if i < enrolled + similar else "C", "factors": json.dumps([]),
                             "model_name": "lead_score", "model_version": "1", "model_kind": "learned",
                             "scored_at": scored} for i, c in enumerate(people)], [])
        workflow = service.create(s, name="Tier A", definition=LEAD_A, enabled=True)
    with tenant_session(tenant["tenant_id"]) as s:
        for i, c in enumerate(people[:enrolled]):
            service.start(s, workflow, f"manual:{i}", {"type": "manual"}, "contact", c)
    winners = people[:enrolled_won] + people[enrolled:enrolled + similar_won] + people[enrolled + similar:]
    with tenant_session(tenant["tenant_id"]) as s:   # after the enrolment: closed_at is later than queued_at
        for c in winners:
            deals.create(s, DealCreate(name="Retainer", contact_id=c, pipeline_id=pipeline.id, stage_id=won))
    return tenant, workflow.id


def _report(tenant, workflow_id, days_later: int = 31):
    with tenant_session(tenant["tenant_id"]) as s:
        return workflow_report(s, workflow_id, as_of=datetime.now(UTC) + timedelta(days=days_later))


def test_enrolled_leads_that_convert_better_are_called_better():
    tenant, wid = _agency(enrolled=40, enrolled_won=28, similar=40, similar_won=8, tier_c=6)
    r = _report(tenant, wid)
    assert (r.entity_type, r.horizon_days, r.matched_on) == ("contact", 30, "lead tier at enrolment")
    assert r.enrolled_total == 40 and r.enrolled_pending == 0 and r.enrolled_ineligible == 0
    assert [(s.stratum, s.enrolled, s.enrolled_successes, s.comparison, s.comparison_successes)
            for s in r.strata] == [("A", 40, 28, 40, 8)]   # the tier-C winners are not "similar"
    assert r.enrolled.rate == pytest.approx(0.7) and r.comparison.rate == pytest.approx(0.2)
    assert r.difference == pytest.approx(0.5)
    lo, hi = r.difference_interval
    assert 0.25 < lo < 0.5 < hi < 0.7
    assert r.verdict == "better" and "did better" in r.suggestion and "not random" in r.suggestion

    early = _report(tenant, wid, days_later=0)   # nobody's 30 days are over yet: nothing to conclude
    assert early.enrolled_pending == 40 and early.difference is None and early.verdict == "too_thin"
    assert "Check back later" in early.suggestion


def test_a_thin_sample_is_not_called_even_when_the_rates_differ():
    tenant, wid = _agency(enrolled=6, enrolled_won=5, similar=6, similar_won=1)
    r = _report(tenant, wid)
    assert r.enrolled.records == 6 and r.comparison.records == 6
    assert r.difference == pytest.approx(4 / 6)
    assert r.verdict == "too_thin" and r.suggestion.startswith("Too few records to conclude")
    lo, hi = r.difference_interval
    assert lo < 0.5 and hi < 1   # wide, and said so
    assert "at least 20 records" in r.suggestion


def test_a_workflow_without_runs_has_no_data():
    tenant = make_tenant("Quiet agency")
    with tenant_session(tenant["tenant_id"]) as s:
        wid = service.create(s, name="Quiet", definition=LEAD_A).id
    r = _report(tenant, wid)
    assert r.verdict == "no_data" and r.enrolled_total == 0 and "nothing to compare" in r.suggestion


def test_wilson_and_newcombe_match_published_values():
    lo, hi = wilson(0.0, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.0, 0.2775)   # Wilson 0/10
    # Newcombe (1998), example (a): 56/70 vs 48/80 -> 0.2000, interval 0.0524 to 0.3339
    p1, p2 = 56 / 70, 48 / 80
    lo, hi = newcombe(p1, wilson(p1, 70), p2, wilson(p2, 80))
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)


def test_deals_are_matched_on_their_stage_and_companies_on_their_churn_tier():
    tenant = make_tenant("Stages agency")
    idle = {"trigger": {"type": "inactivity", "entity": "deal", "days": 14},
            "steps": [{"id": "remind", "type": "create_task", "params": {"title": "Nudge"}}]}
    churn = {"trigger": {"type": "churn_risk", "rises_by": 20},
             "steps": [{"id": "call", "type": "create_task", "params": {"title": "Call"}}]}
    with tenant_session(tenant["tenant_id"]) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", stages=[
            StageCreate(name="Proposal"), StageCreate(name="Won", is_won=True), StageCreate(name="Other")]))
        proposal, won, other = (st.id for st in pipelines.stages_of(s, pipeline.id))
        open_deals = [deals.create(s, DealCreate(name=f"d{i}", pipeline_id=pipeline.id,
                                                 stage_id=other if i == 4 else proposal)) for i in range(5)]
        clients = [companies.create(s, CompanyCreate(name=f"c{i}", customer_since="2025-01-01")) for i in range(3)]
        deal_flow = service.create(s, name="Idle", definition=idle, enabled=True)
        churn_flow = service.create(s, name="Churn", definition=churn, enabled=True)
    with tenant_session(tenant["tenant_id"]) as s:
        service.start(s, deal_flow, "manual:0", {}, "deal", open_deals[0].id)
        service.start(s, churn_flow, "manual:0", {}, "company", clients[0].id)
    with tenant_session(tenant["tenant_id"]) as s:
        deals.update(s, records.find(s, Deal, open_deals[0].id), DealUpdate(stage_id=won))
    r = _report(tenant, deal_flow.id)
    assert (r.entity_type, r.matched_on) == ("deal", "pipeline stage at enrolment")
    # compared with the 3 other deals then in Proposal, not with the one in Other
    assert [(x.stratum, x.enrolled, x.enrolled_successes, x.comparison, x.comparison_successes)
            for x in r.strata] == [("Proposal", 1, 1, 3, 0)]
    assert r.verdict == "too_thin"
    r = _report(tenant, churn_flow.id, days_later=91)
    assert (r.entity_type, r.outcome) == ("company", "still a client (not churned)")
    assert [(x.stratum, x.enrolled, x.enrolled_successes, x.comparison, x.comparison_successes)
            for x in r.strata] == [("unscored", 1, 1, 2, 2)]

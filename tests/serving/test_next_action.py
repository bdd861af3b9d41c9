"""Next best action: the rules pick the right action for built scenarios, each reason cites a real record of
the tenant, and another tenant's company or contact is not found."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from crm import scores
from crm.db.engine import tenant_session
from crm.schemas.activities import ActivityCreate
from crm.schemas.companies import CompanyCreate
from crm.schemas.contacts import ContactCreate
from crm.schemas.deals import DealCreate
from crm.schemas.notes import NoteCreate
from crm.schemas.pipelines import PipelineCreate, StageCreate
from crm.schemas.tasks import TaskCreate
from crm.services import activities, companies, contacts, deals, notes, pipelines, tasks
from serving.concerns import Text, by_theme, find_concerns
from serving.next_action import EntityNotFound, recommend
from serving.sentiment import score_pending

NOW = dt.datetime.now(dt.UTC)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def publish(tenant_id: str, entity_type: str, entity_id, probability: float, tier: str, factors: list[dict]) -> None:
    import json

    with tenant_session(tenant_id) as s:
        scores.refresh(s, entity_type, [{
            "entity_id": str(entity_id), "score": round(probability * 100), "probability": probability, "tier": tier,
            "factors": json.dumps(factors), "model_name": "m", "model_version": "1", "model_kind": "learned",
            "scored_at": NOW}], [])


def person(s, company_id=None, first="Grace", last="Lee"):
    return contacts.create(s, ContactCreate(email=f"{first.lower()}-{uuid.uuid4().hex[:6]}@example.com",
                                            first_name=first, last_name=last, company_id=company_id))


def test_high_churn_risk_negative_sentiment_and_overdue_task_call_for_a_rescue(tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        company = companies.create(s, CompanyCreate(name="Acme", lifecycle="customer"))
        grace = person(s, company.id)
        bob = person(s, company.id, "Bob", "Stone")
        activities.create(s, ActivityCreate(type="meeting", occurred_at=ago(3), contact_id=bob.id,
                                            subject="Quarterly review"))
        earlier = notes.create(s, NoteCreate(body="Great kickoff, they love the new campaign.", contact_id=grace.id,
                                             company_id=company.id, occurred_at=ago(60)))
        bad = notes.create(s, NoteCreate(body="Grace is frustrated: the monthly reports arrive late again and the "
                                              "numbers are wrong. Terrible week.", contact_id=grace.id,
                                         company_id=company.id, occurred_at=ago(5)))
        task = tasks.create(s, TaskCreate(title="Send the corrected report", company_id=company.id, due_at=ago(4)))
        tasks.create(s, TaskCreate(title="Done already", company_id=company.id, due_at=ago(9), is_done=True))
    with tenant_session(t) as s:
        score_pending(s)
    publish(t, "account", company.id, 0.81, "A", [
        {"feature": "support_tickets_90d", "value": 4, "impact": 12.0, "text": "Opened 4 support tickets: +12"},
        {"feature": "orders_90d", "value": 3, "impact": -4.0, "text": "Placed 3 orders: -4"}])

    with tenant_session(t) as s:
        rec = recommend(s, "company", company.id, now=NOW)
    assert (rec.kind, rec.priority, rec.contact_name) == ("rescue_account", "high", "Grace Lee")
    assert rec.action == "Call Grace Lee this week about reporting"
    assert rec.due == (NOW + dt.timedelta(days=2)).date()
    cited = [(r.source_type, r.source_id) for r in rec.reasons]
    # the three signals, each cited to its record: the score row, the negative note, the overdue task
    assert cited[:2] == [("score", str(company.id)), ("note", str(bad.id))]
    assert ("task", str(task.id)) in cited
    assert str(earlier.id) not in {sid for _, sid in cited}
    score, sentiment = rec.reasons[0], rec.reasons[1]
    assert "Churn risk 81/100, tier A" in score.text and "support tickets: +12" in score.text
    assert "Placed 3 orders" not in score.text   # only factors that push the risk up
    assert sentiment.text.startswith("Sentiment is negative")
    assert sentiment.snippet == "Grace is frustrated: the monthly reports arrive late again and the numbers are wrong."
    concern = next(r for r in rec.reasons if "raised a concern about reporting" in r.text)
    assert concern.source_id == str(bad.id) and "reports arrive late" in concern.snippet
    assert rec.to_dict()["reasons"][0]["source_type"] == "score"

    # the same account at low risk, with nothing else wrong, is not rescued
    publish(t, "account", company.id, 0.05, "D", [])
    with tenant_session(t) as s:
        assert recommend(s, "company", company.id, now=NOW).kind != "rescue_account"


def test_a_hot_lead_untouched_for_ten_days_gets_a_follow_up_and_a_recent_touch_waits(tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        lead = person(s, first="Ana", last="Ruiz")
        call = activities.create(s, ActivityCreate(type="call", occurred_at=ago(10), contact_id=lead.id,
                                                   subject="Intro call"))
    publish(t, "lead", lead.id, 0.72, "A", [
        {"feature": "pricing_visits_30d", "value": 3, "impact": 9.0, "text": "Viewed the pricing page 3 times: +9"}])
    with tenant_session(t) as s:
        rec = recommend(s, "contact", lead.id, now=NOW)
    assert (rec.kind, rec.priority) == ("follow_up", "high")
    assert rec.action == "Email Ana Ruiz this week about next steps"
    assert [(r.source_type, r.source_id) for r in rec.reasons[:2]] == [("activity", str(call.id)),
                                                                        ("score", str(lead.id))]
    assert rec.reasons[0].text.startswith("No touch for 10 days: the last was a call")

    with tenant_session(t) as s:   # touched two days ago: nothing to do until a week after that touch
        activities.create(s, ActivityCreate(type="email_sent", occurred_at=ago(2), contact_id=lead.id,
                                            subject="Proposal"))
    with tenant_session(t) as s:
        rec = recommend(s, "contact", lead.id, now=NOW)
    assert rec.kind == "wait" and rec.due == (ago(2) + dt.timedelta(days=7)).date()

    with tenant_session(t) as s:   # a task due tomorrow is the next thing to do
        task = tasks.create(s, TaskCreate(title="Send the case study", contact_id=lead.id,
                                          due_at=NOW + dt.timedelta(days=1)))
    with tenant_session(t) as s:
        rec = recommend(s, "contact", lead.id, now=NOW)
    assert (rec.kind, rec.priority, rec.action) == ("follow_up", "high", "Do 'Send the case study' tomorrow")
    assert (rec.reasons[0].source_type, rec.reasons[0].source_id) == ("task", str(task.id))

    with tenant_session(t) as s:   # then they reply: the reply waits for an answer
        reply = activities.create(s, ActivityCreate(type="email_replied", occurred_at=ago(1), contact_id=lead.id,
                                                    subject="Re: Proposal", body="Looks good, one question."))
    with tenant_session(t) as s:
        rec = recommend(s, "contact", lead.id, now=NOW)
    assert (rec.kind, rec.action) == ("follow_up", "Reply to Ana Ruiz about 'Re: Proposal' today")
    assert (rec.reasons[0].source_type, rec.reasons[0].source_id) == ("activity", str(reply.id))


def test_a_likely_deal_is_closed_and_its_stated_objection_is_named(tenant):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        lead = person(s, first="Li", last="Wei")
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", is_default=True, stages=[
            StageCreate(name="New"), StageCreate(name="Proposal", win_probability=0.6)]))
        proposal = next(st for st in pipelines.stages_of(s, pipeline.id) if st.name == "Proposal")
        deal = deals.create(s, DealCreate(name="SEO retainer", amount=12000, contact_id=lead.id,
                                          pipeline_id=pipeline.id, stage_id=proposal.id,
                                          expected_close_date=(NOW + dt.timedelta(days=20)).date()))
        objection = notes.create(s, NoteCreate(body="Call went fine. Main concern: the price is above what they "
                                                    "planned.", contact_id=lead.id, occurred_at=ago(1)))
    with tenant_session(t) as s:
        rec = recommend(s, "contact", lead.id, now=NOW)
    assert (rec.kind, rec.priority) == ("close_deal", "medium")
    assert rec.action == "Answer Li Wei's concern about price to close 'SEO retainer' this week"
    assert rec.due == (NOW + dt.timedelta(days=3)).date()
    assert [(r.source_type, r.source_id) for r in rec.reasons[:2]] == [("deal", str(deal.id)),
                                                                        ("note", str(objection.id))]
    assert rec.reasons[1].snippet == "Main concern: the price is above what they planned."


def test_another_tenants_records_are_not_found(tenant, other_tenant):
    with tenant_session(other_tenant["tenant_id"]) as s:
        theirs = companies.create(s, CompanyCreate(name="Theirs"))
        their_contact = person(s, theirs.id)
    with tenant_session(tenant["tenant_id"]) as s:
        for kind, eid in (("company", theirs.id), ("contact", their_contact.id), ("contact", uuid.uuid4())):
            with pytest.raises(EntityNotFound):
                recommend(s, kind, eid, now=NOW)


def test_concerns_need_a_theme_and_a_concern_not_praise():
    texts = [Text("note", "n1", "note", ago(3), None, "Reporting is clear and on time. Sent the latest report."),
             Text("note", "n2", "note", ago(2), None, "They mentioned they are comparing us with Rivalco. "
                                                      "Their budget is frozen until the new fiscal year."),
             Text("activity", "a1", "email_replied", ago(1), None, "Honestly the price is too high for us.")]
    found = find_concerns(texts)
    assert [(c.theme, c.text.source_id) for c in found] == [("price", "a1"), ("a competitor", "n2"), ("price", "n2")]
    assert [(theme, len(ms)) for theme, ms in by_theme(found)] == [("price", 2), ("a competitor", 1)]

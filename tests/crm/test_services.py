"""Domain services (crm.services): each rule once, through the service, and every write path (API, CSV
import, events, landing files, dashboard forms) writing the same rows and recording the same change."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from crm.db.engine import tenant_session
from crm.db.models import Activity, Deal, DealStageHistory, Pipeline, User
from crm.schemas.campaigns import CampaignCreate
from crm.schemas.companies import CompanyCreate, CompanyUpdate
from crm.schemas.contacts import ContactCreate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.schemas.notes import NoteCreate
from crm.schemas.pipelines import PipelineCreate, PipelineUpdate, StageCreate, StageUpdate
from crm.schemas.tasks import TaskCreate, TaskUpdate
from crm.services import activities, campaigns, companies, contacts, deals, notes, pipelines, records, tasks
from crm.services.changes import recorded
from crm.services.errors import Invalid, InvalidReference, NotFound
from crm.tenancy import Principal


@pytest.fixture
def committed_changes():
    """Every change recorded by a transaction that committed, in any session of this process (the API's,
    the dashboard's, the import's), captured just before the commit."""
    seen: list = []

    def capture(session: Session) -> None:
        seen.extend(recorded(session))

    event.listen(Session, "before_commit", capture)
    yield seen
    event.remove(Session, "before_commit", capture)


def _stage(session, pipeline, name):
    return next(s for s in pipelines.stages_of(session, pipeline.id) if s.name == name)


# ---- each rule once, through its service ---------------------------------------------------------------

def test_a_deals_status_follows_its_stage_and_every_move_is_history(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        pipeline = pipelines.create(s, PipelineCreate(name="Sales", is_default=True))
        lead, won, lost = (_stage(s, pipeline, n) for n in ("Lead in", "Won", "Lost"))
        deal = deals.create(s, DealCreate(name="Retainer"))
        assert (deal.pipeline_id, deal.stage_id, deal.status, deal.closed_at) == (pipeline.id, lead.id, "open", None)
        deals.update(s, deal, DealUpdate(stage_id=won.id))
        assert deal.status == "won" and deal.closed_at is not None
        deals.update(s, deal, DealUpdate(stage_id=lost.id, lost_reason="budget"))
        assert (deal.status, deal.lost_reason) == ("lost", "budget")   # an explicit lost_reason wins
        deals.update(s, deal, DealUpdate(stage_id=lead.id))
        assert (deal.status, deal.closed_at, deal.lost_reason) == ("open", None, None)
        deals.update(s, deal, DealUpdate(amount=Decimal("10")))   # not a move: no history
        moves = [(h.from_stage_id, h.to_stage_id) for h in deals.stage_history(s, deal.id)]
        assert moves == [(None, lead.id), (lead.id, won.id), (won.id, lost.id), (lost.id, lead.id)]
        other = pipelines.create(s, PipelineCreate(name="Other"))
        with pytest.raises(Invalid) as refused:
            deals.update(s, deal, DealUpdate(stage_id=_stage(s, other, "Won").id))
        assert refused.value.field == "stage_id"
        moved = deals.update(s, deal, DealUpdate(), pipeline_id=other.id)   # only the CSV import names pipelines
        assert moved.stage_id == _stage(s, other, "Lead in").id


def test_a_deal_needs_a_pipeline(tenant):
    with tenant_session(tenant["tenant_id"]) as s, pytest.raises(Invalid, match="no pipeline"):
        deals.create(s, DealCreate(name="Too early"))


def test_one_default_pipeline_and_stage_positions(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        first = pipelines.create(s, PipelineCreate(name="A", is_default=True))
        second = pipelines.create(s, PipelineCreate(name="B", stages=[StageCreate(name="Only")]))
        pipelines.update(s, second, PipelineUpdate(is_default=True))
        s.refresh(first)
        assert (first.is_default, second.is_default) == (False, True)
        assert pipelines.default_id(s) == second.id
        added = pipelines.add_stage(s, second.id, StageCreate(name="Next"))
        assert added.position == 1
        with pytest.raises(Invalid, match="both won and lost"):
            pipelines.add_stage(s, second.id, StageCreate(name="Both", is_won=True, is_lost=True))
        with pytest.raises(Invalid, match="both won and lost"):
            pipelines.update_stage(s, added, StageUpdate(is_won=True, is_lost=True))
        with pytest.raises(NotFound):
            pipelines.find_stage(s, first.id, added.id)   # a stage of another pipeline
        with pytest.raises(NotFound):
            pipelines.add_stage(s, uuid.uuid4(), StageCreate(name="Nowhere"))


def test_churned_at_follows_lifecycle(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        company = companies.create(s, CompanyCreate(name="Gone", lifecycle="churned"))
        stamped = company.churned_at
        assert stamped is not None
        companies.update(s, company, CompanyUpdate(lifecycle="churned", name="Gone Ltd"))
        assert company.churned_at == stamped   # churning again keeps the first moment
        companies.update(s, company, CompanyUpdate(lifecycle="customer"))
        assert company.churned_at is None


def test_done_at_and_note_authors(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        user_id = s.scalar(select(User.id))
        actor = Principal(tenant_id=uuid.UUID(tenant["tenant_id"]), role="member", user_id=user_id)
        task = tasks.create(s, TaskCreate(title="Call", is_done=True))
        assert task.done_at is not None
        tasks.update(s, task, TaskUpdate(is_done=False))
        assert task.done_at is None
        assert notes.create(s, NoteCreate(body="met them"), actor).author_id == user_id
        assert notes.create(s, NoteCreate(body="by an API key")).author_id is None


def test_references_must_be_records_of_this_tenant(tenant, other_tenant):
    with tenant_session(other_tenant["tenant_id"]) as s:
        theirs = companies.create(s, CompanyCreate(name="Victim"))
        their_contact = contacts.create(s, ContactCreate(email="ceo@victim.example.com"))
    with tenant_session(tenant["tenant_id"]) as s:
        with pytest.raises(InvalidReference) as refused:
            contacts.create(s, ContactCreate(email="spy@example.com", company_id=theirs.id))
        assert refused.value.field == "company_id" and str(theirs.id) not in str(refused.value)
        campaign = campaigns.create(s, CampaignCreate(name="Spring", channel="email"))
        with pytest.raises(InvalidReference):
            campaigns.add_members(s, campaign, [their_contact.id])
        with pytest.raises(NotFound):
            records.find(s, Deal, uuid.uuid4())


def test_campaign_members_are_added_once(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        ann = contacts.create(s, ContactCreate(email="ann@example.com"))
        campaign = campaigns.create(s, CampaignCreate(name="Spring", channel="email"))
        assert campaigns.add_members(s, campaign, [ann.id, ann.id]) == (1, 0)
        assert campaigns.add_members(s, campaign, [ann.id]) == (0, 1)
        campaigns.remove_member(s, campaign.id, ann.id)
        with pytest.raises(NotFound):
            campaigns.remove_member(s, campaign.id, ann.id)


def test_events_are_validated_stored_once_and_count_for_the_contacts_company(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        acme = companies.create(s, CompanyCreate(name="Acme"))
        contacts.create(s, ContactCreate(email="ann@acme.example", company_id=acme.id))
        event_ = {"type": "web_visit", "occurred_at": "2026-01-05T10:00:00Z", "external_id": "e-1",
                  "contact_email": "ANN@acme.example", "path": "/pricing"}
        outcomes = activities.ingest(s, [event_, event_, {**event_, "type": "teleport"}], default_source="api")
        assert [o.status for o in outcomes] == ["accepted", "duplicate", "rejected"]
        stored = s.get(Activity, outcomes[0].activity_id)
        assert stored.company_id == acme.id and stored.properties == {"path": "/pricing"}


def test_every_service_write_records_one_change(tenant):
    with tenant_session(tenant["tenant_id"]) as s:
        pipelines.create(s, PipelineCreate(name="Sales", stages=[StageCreate(name="Open")]))
        before = len(recorded(s))
        deal = deals.create(s, DealCreate(name="Retainer"))
        deals.update(s, deal, DealUpdate(amount=Decimal("5")))
        deals.delete(s, deal)
        changes = recorded(s)[before:]
        assert [(c.entity, c.id, c.action) for c in changes] == [
            ("deals", deal.id, "create"), ("deals", deal.id, "update"), ("deals", deal.id, "delete")]
        assert changes[1].changes == {"amount": [Decimal("0"), Decimal("5")]}
    with tenant_session(tenant["tenant_id"]) as s:
        assert recorded(s) == []   # the list belongs to one transaction


# ---- every write path: the same rows, the same recorded change ------------------------------------------

def _move_change(changes, deal_id):
    mine = [c for c in changes if c.entity == "deals" and c.id == deal_id]
    assert len(mine) == 1, mine
    change = mine[0]
    return change.action, {k: v if k != "closed_at" else [v[0], v[1] is not None] for k, v in change.changes.items()}


def _deal_state(tenant_id, deal_id):
    with tenant_session(tenant_id) as s:
        deal = s.get(Deal, deal_id)
        history = s.scalars(select(DealStageHistory.from_stage_id).where(DealStageHistory.deal_id == deal_id)
                            .order_by(DealStageHistory.changed_at)).all()
        return deal.status, deal.closed_at is not None, deal.lost_reason, deal.stage_id, len(history)


def test_api_csv_import_and_dashboard_form_move_a_deal_to_won_alike(tenant, committed_changes):
    from fastapi.testclient import TestClient

    from app.web import app
    from crm.imports import import_csv
    from tests.api.conftest import Api
    from tests.dashboards.test_settings import CSRF_INPUT, login

    t = tenant["tenant_id"]
    with TestClient(app, follow_redirects=False) as client:
        api = Api(client, tenant["headers"])
        pipeline = api.pipeline(is_default=True)
        won = next(s["id"] for s in pipeline["stages"] if s["name"] == "Won")
        by_api, by_csv, by_form = (api.deal(name=n) for n in ("By API", "By CSV", "By form"))

        committed_changes.clear()
        assert api.patch(f"/deals/{by_api['id']}", {"stage_id": won}).status_code == 200
        via_api = _move_change(committed_changes, uuid.UUID(by_api["id"]))

        committed_changes.clear()
        report = import_csv(t, "deals", b"name,stage\nBy CSV,won\n")
        assert report.ok and report.updated == 1, report.errors
        via_csv = _move_change(committed_changes, uuid.UUID(by_csv["id"]))

        login(client, tenant["admin_email"], tenant["password"])
        token = CSRF_INPUT.search(client.get(f"/deals/{by_form['id']}/edit").text).group(1)
        committed_changes.clear()
        r = client.post(f"/deals/{by_form['id']}/edit",
                        data={"csrf_token": token, "name": "By form", "stage_id": won, "amount": "0.00",
                              "currency": "USD", "expected_close_date": "", "company_id": "", "contact_id": "",
                              "lost_reason": ""})
        assert r.status_code == 303, r.text
        via_form = _move_change(committed_changes, uuid.UUID(by_form["id"]))

    lead = by_api["stage_id"]
    expected = ("update", {"stage_id": [uuid.UUID(lead), uuid.UUID(won)], "status": ["open", "won"],
                           "closed_at": [None, True]})
    assert via_api == via_csv == via_form == expected
    states = {_deal_state(t, uuid.UUID(d["id"])) for d in (by_api, by_csv, by_form)}
    assert states == {("won", True, None, uuid.UUID(won), 2)}


def test_api_events_landing_files_and_csv_import_store_an_event_alike(tenant, committed_changes, tmp_path):
    from fastapi.testclient import TestClient

    from app.web import app
    from crm.imports import import_csv
    from crm.ingest.landing import load_file
    from tests.api.conftest import Api

    t = tenant["tenant_id"]
    with TestClient(app) as client:
        api = Api(client, tenant["headers"])
        acme = api.company(domain="acme.example")
        ann = api.contact("ann@acme.example", company_id=acme["id"])

        committed_changes.clear()
        body = {"events": [{"type": "call", "occurred_at": "2026-01-05T10:00:00Z", "external_id": "by-api",
                            "contact_email": "ann@acme.example", "subject": "Intro"}]}
        assert api.post("/events", body).json()["accepted"] == 1
        api_changes = [c for c in committed_changes if c.entity == "activities"]

    committed_changes.clear()
    landing = tmp_path / "calls.csv"
    landing.write_text("type,occurred_at,external_id,contact_email,subject\n"
                       "call,2026-01-05T10:00:00Z,by-landing,ann@acme.example,Intro\n")
    assert load_file(t, landing).loaded == 1
    landing_changes = [c for c in committed_changes if c.entity == "activities"]

    committed_changes.clear()
    report = import_csv(t, "activities", b"type,occurred_at,external_id,contact_email,subject\n"
                                          b"call,2026-01-05T10:00:00Z,by-csv,ann@acme.example,Intro\n")
    assert report.ok and report.created == 1, report.errors
    csv_changes = [c for c in committed_changes if c.entity == "activities"]

    def shape(changes):
        assert len(changes) == 1 and changes[0].action == "create"
        fields = dict(changes[0].changes)
        fields.pop("source"), fields.pop("external_id")
        return {k: v for k, v in fields.items() if v[1] not in (None, {})}

    assert shape(api_changes) == shape(landing_changes) == shape(csv_changes)
    with tenant_session(t) as s:
        rows = s.execute(select(Activity.type, Activity.occurred_at, Activity.contact_id, Activity.company_id,
                                Activity.subject, Activity.source).order_by(Activity.source)).all()
    assert {r[:5] for r in rows} == {("call", rows[0].occurred_at, uuid.UUID(ann["id"]), uuid.UUID(acme["id"]),
                                      "Intro")}
    assert [r.source for r in rows] == ["api", "csv_import", "landing"]


def test_a_refused_import_records_nothing(tenant, committed_changes):
    from crm.imports import import_csv

    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        pipelines.create(s, PipelineCreate(name="Sales"))
    committed_changes.clear()
    report = import_csv(t, "deals", b"name,stage\nGood,Won\nBad,Nowhere\n")
    assert not report.ok and committed_changes == []
    with tenant_session(t) as s:
        assert s.scalar(select(Deal.id)) is None and s.scalar(select(Pipeline.id)) is not None

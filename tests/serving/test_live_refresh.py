"""The score lane on real PostgreSQL, real compiled dbt SQL and real champion models: a write moves the
score as of now, a new lead is scored at once, what leaves the population loses its current score, a
failed refresh leaves its changes queued, and one agency's refresh never touches another's."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.db.models import Company
from crm.live_features import FeatureQueries
from crm.schemas.activities import ActivityCreate
from crm.schemas.companies import CompanyCreate, CompanyUpdate
from crm.schemas.contacts import ContactCreate
from crm.schemas.notes import NoteCreate
from crm.services import activities, companies, contacts, notes
from crm.settings import get_settings
from serving.live.refresh import refresh_tenant
from tests import ml_support
from tests.conftest import make_tenant
from tests.pipelines import factory


@pytest.fixture(scope="module")
def queries() -> FeatureQueries:
    from pipelines.lib.live_sql import feature_queries

    ml_support.trained_models(str(get_settings().home))  # champions for lead_score and churn_risk
    return feature_queries()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _contact(tenant: str, **fields) -> uuid.UUID:
    with tenant_session(tenant) as s:
        return contacts.create(s, ContactCreate(email=f"{uuid.uuid4().hex[:8]}@example.com", **fields)).id


def _activity(tenant: str, contact_id, kind: str, hours_ago: float = 1, **fields) -> None:
    with tenant_session(tenant) as s:
        activities.create(s, ActivityCreate(type=kind, occurred_at=_now() - dt.timedelta(hours=hours_ago),
                                            contact_id=contact_id, **fields))


def _drain(tenant: str, queries: FeatureQueries):
    batch = refresh_tenant(tenant, queries)
    assert refresh_tenant(tenant, queries).claimed == 0  # one call took everything queued
    return batch


def _one(tenant: str, sql: str, **params):
    with tenant_session(tenant) as s:
        return s.execute(text(sql), params).mappings().first()


def _score(tenant: str, entity_type: str, entity_id):
    return _one(tenant, "select * from scores where entity_type = :e and entity_id = :i", e=entity_type, i=entity_id)


def _features(tenant: str, entity_type: str, entity_id) -> dict | None:
    row = _one(tenant, "select features from analytics.features_latest where entity_type = :e and entity_id = :i",
               e=entity_type, i=entity_id)
    return None if row is None else row["features"]


def test_a_new_lead_is_scored_at_once_and_its_replies_move_the_score_now(queries):
    tenant = make_tenant("Live")["tenant_id"]
    lead = _contact(tenant, lead_source="referral")
    batch = _drain(tenant, queries)
    assert batch.claimed >= 1 and batch.leads.scored == 1
    cold = _score(tenant, "lead", lead)
    assert cold is not None and cold["model_name"] == "lead_score" and cold["factors"]
    assert _features(tenant, "lead", lead)["emails_replied_30d"] == 0

    for hours in (1, 5, 30):
        _activity(tenant, lead, "email_replied", hours_ago=hours, subject="Re: proposal")
    _activity(tenant, lead, "web_visit", properties={"path": "/pricing"})
    before = _now()
    _drain(tenant, queries)
    warm = _score(tenant, "lead", lead)
    features = _features(tenant, "lead", lead)
    assert features["emails_replied_7d"] == 3 and features["pricing_visits_30d"] == 1
    assert features["days_since_last_reply"] < 0.1  # the reply an hour ago: features end now, not at a month-end
    assert warm["scored_at"] >= before and warm["probability"] > cold["probability"]
    history = _one(tenant, "select count(*) as n from score_history where entity_id = :i", i=lead)["n"]
    assert history == 2


def test_a_note_gets_its_sentiment_and_reaches_the_lead_and_its_account(queries):
    tenant = make_tenant("Live")["tenant_id"]
    with tenant_session(tenant) as s:
        company = companies.create(s, CompanyCreate(name="Acme", customer_since=dt.date(2025, 1, 1))).id
    lead = _contact(tenant, company_id=company)
    _drain(tenant, queries)
    with tenant_session(tenant) as s:
        notes.create(s, NoteCreate(contact_id=lead, body="They are furious: the reporting is broken and useless."))
    batch = _drain(tenant, queries)
    assert batch.texts_scored == 1 and batch.leads.computed == 1 and batch.accounts.computed == 1
    assert _features(tenant, "lead", lead)["negative_texts_90d"] == 1
    assert _features(tenant, "account", company)["negative_texts_90d"] == 1
    assert _score(tenant, "account", company)["model_name"] == "churn_risk"


def test_a_company_change_rescoring_its_contacts_and_a_converted_lead_leaving(queries):
    tenant = make_tenant("Live")["tenant_id"]
    with tenant_session(tenant) as s:
        company = companies.create(s, CompanyCreate(name="Beta")).id
    leads = [_contact(tenant, company_id=company) for _ in range(3)]
    _drain(tenant, queries)
    with tenant_session(tenant) as s:
        companies.update(s, s.get(Company, company), CompanyUpdate(industry="Retail", size="51-200"))
    batch = _drain(tenant, queries)
    assert batch.leads.computed == 3
    assert {_features(tenant, "lead", i)["company_industry"] for i in leads} == {"Retail"}

    with tenant_session(tenant) as s:  # a won deal makes the first lead a customer: no longer a lead
        stages = factory._pipeline(s)
        factory.insert(s, "deals", name="Won", contact_id=leads[0], pipeline_id=stages["pipeline"],
                       stage_id=stages["Won"], amount=1000, status="won", closed_at=_now() - dt.timedelta(minutes=1))
    batch = _drain(tenant, queries)
    assert batch.leads.retired == 1
    assert _score(tenant, "lead", leads[0]) is None and _features(tenant, "lead", leads[0]) is None
    assert _one(tenant, "select count(*) as n from score_history where entity_id = :i", i=leads[0])["n"] >= 1


def test_a_failed_refresh_leaves_its_changes_queued(queries):
    tenant = make_tenant("Live")["tenant_id"]
    lead = _contact(tenant)
    broken = FeatureQueries(lead="select 1 / 0", account=queries.account, digest="broken")
    with pytest.raises(Exception, match="division by zero"):
        refresh_tenant(tenant, broken)
    assert _one(tenant, "select count(*) as n from live_refresh_queue")["n"] >= 1
    assert _score(tenant, "lead", lead) is None
    _drain(tenant, queries)
    assert _score(tenant, "lead", lead) is not None


def test_one_agencys_refresh_never_touches_another(queries):
    a, b = make_tenant("Live A")["tenant_id"], make_tenant("Live B")["tenant_id"]
    lead_a, lead_b = _contact(a), _contact(b)
    batch = _drain(a, queries)
    assert batch.leads.computed == 1
    assert _score(a, "lead", lead_a) is not None
    assert _score(b, "lead", lead_b) is None  # B's change still waits in B's queue, unseen by A's refresh
    assert _one(b, "select count(*) as n from live_refresh_queue")["n"] >= 1
    assert _score(a, "lead", lead_b) is None and _features(a, "lead", lead_b) is None


def test_a_pipeline_scoring_pass_takes_what_it_answered_off_the_queue(queries):
    """The pipeline's lead_scores and account_scores score every entity as of now: once both passes have run,
    the changes they saw are answered and leave the queue; a change written after stays for the refresher."""
    from serving.batch import score_now

    tenant = make_tenant("Bulk")["tenant_id"]
    with tenant_session(tenant) as s:
        company = companies.create(s, CompanyCreate(name="Acme", customer_since=dt.date(2025, 1, 1))).id
    leads = [_contact(tenant, company_id=company) for _ in range(3)]
    _activity(tenant, leads[0], "meeting")
    queued = _one(tenant, "select count(*) as n from live_refresh_queue")["n"]

    assert score_now("lead", queries, tenant_ids=[tenant]).settled == 0   # their accounts are not scored yet
    assert _one(tenant, "select count(*) as n from live_refresh_queue")["n"] == queued
    late = _contact(tenant, company_id=company)   # written between the two passes
    result = score_now("account", queries, tenant_ids=[tenant])
    assert result.settled == queued and result.tenants == 1
    assert {_score(tenant, "lead", i)["model_name"] for i in leads} == {"lead_score"}
    assert _score(tenant, "account", company) is not None

    waiting = _one(tenant, "select array_agg(distinct entity_id) as ids from live_refresh_queue")["ids"]
    assert set(waiting) == {late, company}   # its lead is not scored yet; the refresher takes it
    batch = _drain(tenant, queries)
    assert batch.leads.scored == 1 and _score(tenant, "lead", late) is not None

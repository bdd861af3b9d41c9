"""The score card fragment the contact/company pages poll, and the insight index progress, over HTTP."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.web import app
from crm.db.engine import tenant_session
from tests.dashboards.test_session import login
from tests.serving.rag_factory import TenantData

FACTORS = [{"feature": "emails_replied_30d", "value": 3, "impact": 0.9,
            "text": "Replied to 3 emails in the last 30 days: +9"}]


@pytest.fixture
def client():
    with TestClient(app, follow_redirects=False) as c:
        yield c


def _drain_refresh_queue(tenant_id: str) -> None:
    """What the refresher's commit does to the queue (its scores are written by the test itself here)."""
    with tenant_session(tenant_id) as s:
        s.execute(text("delete from live_refresh_queue"))


def test_the_card_says_updating_until_the_change_is_scored(client, tenant):
    data = TenantData(tenant["tenant_id"])
    acme = data.company("Acme")
    ann = data.contact("ann@acme.test", acme, "Ann")
    data.score("lead", ann, 41, FACTORS)
    login(client, tenant["admin_email"], tenant["password"])

    card = client.get(f"/contacts/{ann}/score-card")
    assert card.status_code == 200 and card.headers["cache-control"] == "no-store"
    assert 'data-pending="1"' in card.text and "updating…" in card.text  # the contact's insert is queued
    assert ">41<" in card.text and "Replied to 3 emails in the last 30 days" in card.text
    assert re.search(r"as of <time data-as-of datetime=\"\d{4}-\d\d-\d\dT", card.text)
    assert "<html" not in card.text  # a fragment, not a page

    _drain_refresh_queue(tenant["tenant_id"])
    data.execute("update scores set score = 77, tier = 'A' where entity_id = :i", i=ann)
    card = client.get(f"/contacts/{ann}/score-card")
    assert 'data-pending="0"' in card.text and "updating…" not in card.text and ">77<" in card.text
    page = client.get(f"/contacts/{ann}")
    assert page.text.count("data-score-card=") == 1 and f'data-score-card="/contacts/{ann}/score-card"' in page.text

    # a company's churn risk also waits on changes of its people
    data.score("account", acme, 30)
    assert 'data-pending="0"' in client.get(f"/companies/{acme}/score-card").text
    data.note("Ann asked for a cheaper plan.", contact_id=ann)
    with tenant_session(tenant["tenant_id"]) as s:  # only the contact: the lane widens it to the company
        s.execute(text("delete from live_refresh_queue where entity_type = 'company'"))
    company = client.get(f"/companies/{acme}/score-card")
    assert company.status_code == 200 and 'data-pending="1"' in company.text and "Churn risk" in company.text


def test_a_card_is_for_signed_in_users_of_the_same_tenant(client, tenant, other_tenant):
    theirs = TenantData(other_tenant["tenant_id"])
    their_company = theirs.company("Rival Co")
    their_contact = theirs.contact("secret@rival.example", their_company)
    theirs.score("lead", their_contact, 90, FACTORS)
    assert client.get(f"/contacts/{their_contact}/score-card").status_code == 303  # to the sign-in page

    login(client, tenant["admin_email"], tenant["password"])
    for url in (f"/contacts/{their_contact}/score-card", f"/companies/{their_company}/score-card",
                "/contacts/not-a-uuid/score-card", f"/companies/{their_contact}/score-card"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "secret@rival" not in r.text and ">90<" not in r.text


def test_insights_page_shows_index_progress_while_texts_wait(client, tenant, other_tenant):
    from serving.live.index_lane import index_tenant_queue
    from tests.serving.test_rag_index import CountingEmbedder

    data = TenantData(tenant["tenant_id"])
    first = data.note("The client wants weekly reporting.")
    TenantData(other_tenant["tenant_id"]).note("Another agency's note is not counted here.")
    index_tenant_queue(tenant["tenant_id"], 256, CountingEmbedder())
    data.note("They are reviewing agencies in May.")
    data.note("Budget for paid social doubles next quarter.")
    login(client, tenant["admin_email"], tenant["password"])

    page = client.get("/insights")
    assert page.status_code == 200
    banner = re.search(r"data-index-progress>([^<]+)<", page.text)
    assert banner and banner.group(1).startswith("Insight index: 1 of 3 texts indexed"), first

    index_tenant_queue(tenant["tenant_id"], 256, CountingEmbedder())
    assert "data-index-progress" not in client.get("/insights").text


def test_an_activity_logged_on_the_page_is_queued_for_the_refresher(client, tenant, other_tenant):
    from tests.dashboards.test_session import csrf_of

    mine = TenantData(tenant["tenant_id"]).contact("ann@acme.test")
    theirs = TenantData(other_tenant["tenant_id"]).contact("secret@rival.example")
    _drain_refresh_queue(tenant["tenant_id"])
    login(client, tenant["admin_email"], tenant["password"])
    form = {"csrf_token": csrf_of(client), "type": "call", "subject": "Kick-off call",
            "occurred_at": "2026-11-02T10:00:00Z", "next": f"/contacts/{mine}"}

    r = client.post("/activities/new", data={**form, "contact_id": mine})
    assert r.status_code == 303 and r.headers["location"] == f"/contacts/{mine}"
    assert 'data-pending="1"' in client.get(f"/contacts/{mine}/score-card").text

    refused = client.post("/activities/new", data={**form, "contact_id": theirs})
    assert refused.status_code == 422 and "secret@rival" not in refused.text
    with tenant_session(other_tenant["tenant_id"]) as s:
        assert s.execute(text("select count(*) from activities")).scalar_one() == 0

"""The contact page follows live, in a real Chromium: with the refresher running (both lanes, in a thread of this
process, real compiled feature SQL and real champion models), an activity logged through the page's own form
moves the score card (score or reasons, and its as-of time) without a reload."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.schemas.contacts import ContactCreate
from crm.services import contacts
from crm.settings import get_settings
from tests import ml_support
from tests.conftest import make_tenant
from tests.dashboards.conftest import sign_in

LIMIT_MS = 60_000  # the bound from a write to its score


@pytest.fixture(scope="module")
def refresher(crm_home):
    from pipelines.lib.live_sql import feature_queries
    from serving.live.worker import Refresher

    ml_support.trained_models(str(get_settings().home))  # champions for lead_score and churn_risk
    stop = threading.Event()
    thread = threading.Thread(target=Refresher(feature_queries(), poll_seconds=1.0).run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def _scored(tenant_id: str, contact_id: uuid.UUID, bound_s: float = 60) -> None:
    """Wait (bounded) for the refresher to give the new lead its first score."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        with tenant_session(tenant_id) as s:
            if s.execute(text("select 1 from scores where entity_type = 'lead' and entity_id = :i"),
                         {"i": contact_id}).first():
                return
        time.sleep(0.5)
    pytest.fail("the refresher did not score the new lead")


def test_logging_an_activity_moves_the_score_card_without_a_reload(page, refresher, tmp_path):
    tenant = make_tenant("Live Agency")
    with tenant_session(tenant["tenant_id"]) as s:
        ann = contacts.create(s, ContactCreate(email="ann@live.example", first_name="Ann", last_name="Lee",
                                               lead_source="paid_search")).id
    _scored(tenant["tenant_id"], ann)  # a cold start: scored from what it has, before anything happened

    sign_in(page, tenant["admin_email"], tenant["password"])
    page.goto(f"/contacts/{ann}")
    card = page.locator("[data-score-card]")
    expect(card).to_have_attribute("data-pending", "0")
    before = {"as_of": card.locator("[data-as-of]").get_attribute("datetime"),
              "score": card.locator(".score-num").inner_text(), "reasons": card.locator(".reasons").inner_text()}
    assert "No activity in the last 180 days" in before["reasons"]

    form = page.locator("[data-quick-activity]")
    form.locator("select[name=type]").select_option("email_replied")
    form.locator("input[name=subject]").fill("Re: proposal - yes, let's start the paid social pilot in May")
    form.locator("button[type=submit]").click()
    expect(page.locator(".timeline")).to_contain_text("start the paid social pilot")  # the write landed

    # the same page document is updated by the poll: no navigation after the form's redirect
    page.evaluate("window.__same_document = true")
    expect(card.locator("[data-as-of]")).not_to_have_attribute("datetime", before["as_of"], timeout=LIMIT_MS)
    expect(card).to_have_attribute("data-pending", "0")
    expect(card.locator("[data-updating]")).to_have_count(0)
    after = {"score": card.locator(".score-num").inner_text(), "reasons": card.locator(".reasons").inner_text()}
    assert (after["score"], after["reasons"]) != (before["score"], before["reasons"])
    assert "No activity in the last 180 days" not in after["reasons"]
    assert page.evaluate("window.__same_document") is True
    tier = card.locator(".score-big .tier").inner_text()
    expect(page.locator("[data-live-tier] .tier")).to_have_text(tier)
    assert page.js_errors == []
    page.screenshot(path=str(tmp_path / "contact-live.png"))
    print(f"screenshot: {tmp_path / 'contact-live.png'}")

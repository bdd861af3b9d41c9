"""The workflow pages in a real Chromium: the list with its toggle, a workflow made from a template, "Run now",
the run executed by the real runner and shown step by step, and another agency's 404s."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.db.engine import tenant_session
from crm.workflows import service
from serving.workflows.runner import execute
from tests.conftest import make_tenant
from tests.dashboards.conftest import sign_in

REVIEW = {"trigger": {"type": "manual"},
          "steps": [{"id": "review", "type": "create_task",
                     "params": {"title": "Review the stalled deals", "due_in_minutes": 120,
                                "assignee": "round_robin"}}]}


@pytest.fixture(scope="module")
def agency():
    tenant = make_tenant("Flow Agency")
    with tenant_session(tenant["tenant_id"]) as s:
        idle = service.create(s, template="deal_idle_reminder", enabled=True)
        review = service.create(s, name="Weekly pipeline review", definition=REVIEW, enabled=False)
    return {"tenant": tenant, "idle": idle.id, "review": review.id}


def _shot(page, name: str) -> None:
    """Screenshots for people to look at, when CRM_SCREENSHOTS_DIR names a folder."""
    folder = os.environ.get("CRM_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_list_template_run_and_run_page(page, agency):
    tenant = agency["tenant"]
    sign_in(page, tenant["admin_email"], tenant["password"])
    page.click("nav >> text=Workflows")
    expect(page.locator("h1")).to_have_text("Workflows")
    table = page.locator("#workflows-table")
    expect(table).to_contain_text("Deal idle 14 days → reminder")
    expect(table).to_contain_text("When a deal has had no activity for 14 days")
    review_row = page.locator(f"tr[data-workflow='{agency['review']}']")
    expect(review_row.locator("[data-enabled]")).to_have_text("disabled")
    review_row.locator("[data-toggle]").click()
    expect(page.locator(f"tr[data-workflow='{agency['review']}'] [data-enabled]")).to_have_text("enabled")
    _shot(page, "workflows")

    churn = page.locator("[data-template=churn_risk_jump]")
    churn.locator("input[name=p_subscription_id]").fill("7d3f2a4e-0000-4000-8000-000000000000")
    churn.locator("button[type=submit]").click()
    expect(page.get_by_role("alert")).to_contain_text('steps[1] "notify": params.subscription_id: no webhook')

    card = page.locator("[data-template=tier_a_lead_follow_up]")
    card.locator("input[name=p_due_in_minutes]").fill("30")
    card.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("New tier-A lead")
    steps = page.locator("#steps")
    expect(steps).to_contain_text("When a lead's score enters tier A")
    expect(steps).to_contain_text("Create task “Call new tier-A lead” for the record's owner, due in 30 min")
    expect(page.locator("#report")).to_contain_text("nothing to compare")

    page.goto(f"/workflows/{agency['review']}")
    expect(page.locator("#runs-table")).to_have_count(0)
    page.click("[data-run-now]")
    expect(page).to_have_url(re.compile(r"/workflows/runs/[0-9a-f-]{36}$"))
    expect(page.locator("[data-status]")).to_have_text("queued")
    expect(page.locator("#steps")).to_contain_text("No step has run yet")
    run_id = page.url.rsplit("/", 1)[1]

    outcome = execute(tenant["tenant_id"], run_id)   # what the worker does with it
    assert outcome is not None and outcome.status == "succeeded", outcome
    page.reload()
    expect(page.locator("[data-status]")).to_have_text("succeeded")
    step = page.locator("tr[data-step=review]")
    expect(step).to_contain_text("Create task “Review the stalled deals” for the next person in turn")
    expect(step).to_contain_text('"title": "Review the stalled deals"')   # its input
    expect(step).to_contain_text('"task_id"')                              # its output
    expect(step.locator("td.num")).to_contain_text(re.compile(r"\d+ ms"))
    _shot(page, "workflow-run")

    page.click(".crumb >> text=Weekly pipeline review")
    expect(page.locator(f"#runs-table tr[data-run='{run_id}']")).to_contain_text("succeeded")
    _shot(page, "workflow")
    assert page.js_errors == []


def test_another_agency_gets_404_pages(page, agency):
    with tenant_session(agency["tenant"]["tenant_id"]) as s:
        run, _ = service.start(s, service.get(s, agency["idle"]), "manual:isolation", {"type": "manual"})
    other = make_tenant("Other Agency")
    sign_in(page, other["admin_email"], other["password"])
    for path in (f"/workflows/{agency['idle']}", f"/workflows/runs/{run.id}"):
        response = page.goto(path)
        assert response.status == 404
        expect(page.locator("body")).to_contain_text("does not exist")
    page.goto("/workflows")
    expect(page.locator("#workflows-table")).to_have_count(0)

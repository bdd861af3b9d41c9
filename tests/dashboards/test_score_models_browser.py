"""A lapsed customer's company page in a real Chromium: the churn risk with its visible "Lapsed" badge, the
expected orders and value over the next 90 days, and the model that scored it with the agency's reason."""

from __future__ import annotations

from playwright.sync_api import expect

from crm import tenant_models
from crm.db.engine import tenant_session
from crm.tenancy import set_churn_mode
from crm.tenant_models import ModelChoice
from tests.conftest import make_tenant
from tests.dashboards import test_score_models as shop
from tests.dashboards.conftest import sign_in
from tests.dashboards.seed import seed_agency
from tests.serving.rag_factory import TenantData


def test_a_lapsed_customer_page_shows_state_value_and_model(page, tmp_path):
    tenant = make_tenant("Outdoor Shop Agency")
    set_churn_mode(tenant["tenant_id"], "activity")
    acme = seed_agency(tenant)["acme"]["id"]
    shop.add_orders(TenantData(tenant["tenant_id"]), acme, ["USD"] * 5)
    with tenant_session(tenant["tenant_id"]) as s:
        tenant_models.record(s, ModelChoice("account", "bg_nbd", shop.BG_NBD_REASON, shop.fitted_bg_nbd_params()))
    for score in (58, 81):  # two runs: the history chart has a line
        shop.publish_score(tenant["tenant_id"], "account", acme, "bg_nbd", "bg_nbd@2026-05-01T02:00Z",
                           shop.account_features(True, 310.0), score=score)

    sign_in(page, tenant["admin_email"], tenant["password"])
    page.goto(f"/companies/{acme}")
    card = page.locator("[data-score-card]")
    expect(card.locator(".score-num")).to_have_text("81")
    badge = card.locator('[data-customer-state="lapsed"]')
    expect(badge).to_be_visible()
    expect(badge).to_have_text(shop.LAPSED)
    expect(card.locator("[data-expected]")).to_contain_text("Expected next 90 days:")
    expect(card.locator("[data-expected]")).to_contain_text("≈ $")
    expect(card.locator(".model-line")).to_contain_text(shop.BG_NBD_WORDS)
    expect(card.locator(".model-line")).to_have_attribute("title", shop.BG_NBD_REASON)
    # the badge sits beside the tier, not in the page heading the live poll copies the tier into
    expect(page.locator("h1 [data-customer-state]")).to_have_count(0)
    box, tier = badge.bounding_box(), card.locator(".score-big .tier").bounding_box()
    assert abs(box["y"] + box["height"] / 2 - (tier["y"] + tier["height"] / 2)) < 6   # on the tier's line
    card.screenshot(path=str(tmp_path / "company-score-card.png"))
    page.screenshot(path=str(tmp_path / "company-lapsed.png"), full_page=True)
    print(f"screenshots: {tmp_path}")
    assert page.js_errors == []

    page.goto("/accounts")
    row = page.locator("#accounts-table tbody tr", has_text="Acme Outdoor")
    expect(row.locator('[data-customer-state="lapsed"]')).to_have_text("Lapsed")
    expect(page.locator(".model-kinds")).to_have_text(f"Scored by {shop.BG_NBD_WORDS}")
    page.screenshot(path=str(tmp_path / "accounts.png"))

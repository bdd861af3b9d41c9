"""Edit forms over HTTP: an emptied field clears what may be cleared and keeps what may not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.web import app
from tests.api.conftest import Api
from tests.dashboards.test_settings import CSRF_INPUT, login


def test_emptied_fields_clear_or_keep(tenant):
    with TestClient(app, follow_redirects=False) as client:
        api = Api(client, tenant["headers"])
        contact = api.contact("ann@acme.example", first_name="Ann", last_name="Lee", phone="555-0100")
        api.pipeline()
        deal = api.deal(amount="1200.00")
        login(client, tenant["admin_email"], tenant["password"])
        token = CSRF_INPUT.search(client.get(f"/contacts/{contact['id']}/edit").text).group(1)
        r = client.post(f"/contacts/{contact['id']}/edit",
                        data={"csrf_token": token, "email": "ann@acme.example", "first_name": "Ann", "last_name": "",
                              "phone": "", "title": "", "company_id": "", "lifecycle_stage": "lead", "lead_source": ""})
        assert r.status_code == 303, r.text
        r = client.post(f"/deals/{deal['id']}/edit",
                        data={"csrf_token": token, "name": "Retainer", "stage_id": deal["stage_id"], "amount": "",
                              "currency": "", "expected_close_date": "", "company_id": "", "contact_id": "",
                              "lost_reason": ""})
        assert r.status_code == 303, r.text
    saved = api.get(f"/contacts/{contact['id']}").json()
    assert (saved["last_name"], saved["phone"], saved["first_name"]) == ("", None, "Ann")
    saved_deal = api.get(f"/deals/{deal['id']}").json()
    assert (saved_deal["amount"], saved_deal["currency"]) == ("1200.00", "USD")


def test_an_order_logged_in_the_form_keeps_its_amount(tenant):
    with TestClient(app, follow_redirects=False) as client:
        api = Api(client, tenant["headers"])
        company = api.company()
        login(client, tenant["admin_email"], tenant["password"])
        token = CSRF_INPUT.search(client.get("/activities/new").text).group(1)
        r = client.post("/activities/new",
                        data={"csrf_token": token, "type": "order", "subject": "Spring order", "body": "",
                              "occurred_at": "2026-03-01T10:00", "contact_id": "", "company_id": company["id"],
                              "amount": "240.5", "currency": "eur"})
        assert r.status_code == 303, r.text
    [order] = api.list_all("activities", company_id=company["id"])
    assert (order["amount"], order["currency"], order["subject"]) == ("240.50", "EUR", "Spring order")

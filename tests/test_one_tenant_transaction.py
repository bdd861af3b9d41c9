"""The tenant once: a request opens one tenant transaction, at the edge, inside a db slot.

Every tenant transaction starts with `crm.db.engine.set_tenant` (called by `tenant_session`), so counting
its calls counts them. A signed-in dashboard request also checks its session cookie (one tenant
transaction in the middleware, before any page code runs); what a page adds to that is measured against a
page that reads nothing.
"""

from __future__ import annotations

from functools import partial

import pytest
from fastapi.testclient import TestClient

from app.web import app
from crm.db import engine, slots
from serving.rag.indexer import index_tenant
from tests.api.conftest import Api
from tests.dashboards.test_settings import CSRF_INPUT, login


@pytest.fixture
def transactions(monkeypatch) -> list[bool]:
    """One entry per tenant transaction opened: whether a db slot was held when it began."""
    opened: list[bool] = []
    set_tenant = engine.set_tenant

    def counting(session, tenant_id):
        opened.append(slots.held())
        set_tenant(session, tenant_id)

    monkeypatch.setattr(engine, "set_tenant", counting)
    return opened


def _count(opened: list[bool], call, status: int | None = None) -> tuple[int, int]:
    """(tenant transactions the call opened, how many of them inside a db slot)."""
    opened.clear()
    response = call()
    assert response.status_code == status if status else response.status_code < 400, response.text
    return len(opened), sum(opened)


@pytest.fixture
def client():
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def seeded(client, tenant):
    api = Api(client, tenant["headers"])
    company = api.company(name="Quokka Holdings")
    contact = api.contact("dana@quokka.example", first_name="Dana", company_id=company["id"])
    api.create("notes", {"body": "Dana said Quokka compares us with Brightwave Media; decision in May.",
                         "contact_id": contact["id"]})
    api.pipeline()
    index_tenant(tenant["tenant_id"])
    return api, company, contact


def test_insights_and_email_drafts_open_one_tenant_transaction_inside_a_slot(seeded, transactions):
    api, company, contact = seeded
    for call in (lambda: api.post("/insights", {"question": "Which competitor?", "company_id": company["id"]}),
                 lambda: api.post("/insights", {"question": "Who compares us with Brightwave Media at Quokka "
                                                "Holdings?"}),
                 lambda: api.post("/insights", {"question": "decision?", "company_id": company["id"],
                                                "contact_id": contact["id"]}),
                 lambda: api.post(f"/contacts/{contact['id']}/email-draft")):
        assert _count(transactions, call) == (1, 1)


def test_a_dashboard_page_opens_one_tenant_transaction_inside_a_slot(client, tenant, seeded, transactions):
    _, company, contact = seeded
    login(client, tenant["admin_email"], tenant["password"])
    signed_in, _ = _count(transactions, lambda: client.get("/no-such-page"), 404)   # a page that reads nothing
    for path in ("/insights", f"/contacts/{contact['id']}", f"/contacts/{contact['id']}/score-card",
                 f"/companies/{company['id']}", "/", "/leads", "/accounts", "/pipeline", "/campaigns", "/settings",
                 f"/contacts/{contact['id']}/edit"):
        assert _count(transactions, partial(client.get, path)) == (signed_in + 1, 1), path
    token = CSRF_INPUT.search(client.get("/contacts/new").text).group(1)
    for path, form, status in (
            (f"/contacts/{contact['id']}/edit", {"email": "dana@quokka.example", "first_name": "Dee"}, 303),
            ("/contacts/new", {"email": "not-an-email"}, 422),   # refused: the form again, in the same transaction
            ("/settings/api-keys", {"name": "ci", "role": "member"}, 200),
            ("/settings/api-keys/not-a-uuid/revoke", {}, 404)):   # a malformed id is a missing page
        post = partial(client.post, path, data={"csrf_token": token, **form})
        assert _count(transactions, post, status) == (signed_in + 1, 1), path

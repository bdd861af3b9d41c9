"""The History panel of contact, company and deal pages: a dashboard form post is audited as the signed-in
user, and the page then shows when, who and what changed (old → new), over HTTP against the real app."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.web import app
from crm.db.engine import tenant_session
from tests.api.conftest import Api
from tests.dashboards.test_settings import CSRF_INPUT, login


def _panel(html: str) -> str:
    match = re.search(r"<section class=\"card\" data-history>(.*?)</section>", html, re.S)
    assert match, "no History panel on the page"
    return match.group(1)


def test_a_form_post_is_audited_as_the_user_and_shown_on_the_record_pages(tenant):
    with TestClient(app, follow_redirects=False) as client:
        api = Api(client, tenant["headers"])
        company = api.company(name="Acme")
        contact = api.contact("ann@acme.example", first_name="Ann", company_id=company["id"])
        api.pipeline(is_default=True)
        deal = api.deal(name="Retainer", company_id=company["id"])
        login(client, tenant["admin_email"], tenant["password"])
        token = CSRF_INPUT.search(client.get(f"/contacts/{contact['id']}/edit").text).group(1)
        r = client.post(f"/contacts/{contact['id']}/edit",
                        data={"csrf_token": token, "email": "ann@acme.example", "first_name": "Annie",
                              "last_name": "", "phone": "", "title": "", "company_id": company["id"],
                              "lifecycle_stage": "lead", "lead_source": ""}, headers={"X-Request-ID": "form-42"})
        assert r.status_code == 303, r.text

        with tenant_session(tenant["tenant_id"]) as s:
            user_id, name = s.execute(text("select id, name from users")).one()
        entries = api.list_all("audit", entity_type="contact", entity_id=contact["id"])
        assert [(e["action"], e["actor_type"]) for e in entries] == [("update", "user"), ("create", "api_key")]
        update = entries[0]
        assert (update["actor_id"], update["actor_label"], update["request_id"]) == (str(user_id), name, "form-42")
        assert update["changes"]["first_name"] == ["Ann", "Annie"]

        panel = _panel(client.get(f"/contacts/{contact['id']}").text)
        assert panel.count("data-history-action") == 2
        row = re.search(r'data-history-field="first_name">(.*?)</tr>', panel, re.S).group(1)
        assert "Ann" in row and "Annie" in row and "→" in row
        assert f"by {name}" in panel

        assert 'data-history-action="create"' in _panel(client.get(f"/companies/{company['id']}").text)
        assert 'data-history-action="create"' in _panel(client.get(f"/deals/{deal['id']}/edit").text)

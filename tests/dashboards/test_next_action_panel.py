"""The "Next best action" panel on contact and company pages, over HTTP against the real app: the action, and
each reason linking to the record it cites, which opens that record's page."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient

from app.web import app
from tests.api.conftest import Api
from tests.dashboards.test_settings import login


def _panel(html: str) -> str:
    match = re.search(r'<section class="card next-action" id="next-action".*?</section>', html, re.S)
    assert match, "no Next best action panel on the page"
    return match.group(0)


def test_the_panel_names_the_action_and_links_every_reason_to_its_record(tenant, other_tenant):
    with TestClient(app, follow_redirects=False) as client:
        api = Api(client, tenant["headers"])
        company = api.company(name="Acme", lifecycle="customer")
        contact = api.contact("ann@acme.example", first_name="Ann", last_name="Park", company_id=company["id"])
        due = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        task = api.create("tasks", {"title": "Send the audit", "contact_id": contact["id"], "due_at": due})
        note = api.create("notes", {"body": "Ann is worried the reports arrive late.", "contact_id": contact["id"]})
        login(client, tenant["admin_email"], tenant["password"])

        panel = _panel(client.get(f"/companies/{company['id']}").text)
        assert "Finish the overdue task &#39;Send the audit&#39; today" in panel
        assert f'href="/contacts/{contact["id"]}">Ann Park</a>' in panel
        links = dict(re.findall(r'data-source-id="([0-9a-f-]+)">.*?<a class="na-cite" href="([^"]+)"', panel, re.S))
        assert links[task["id"]].startswith(f"/tasks/{task['id']}/edit?next=")
        assert links[note["id"]] == f"/sources/note/{note['id']}"
        assert "<q class=\"na-quote\">Ann is worried the reports arrive late.</q>" in panel
        opened = client.get(links[note["id"]])   # the citation opens the contact's page at the note
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/contacts/{contact['id']}#note-{note['id']}"
        assert client.get(links[task["id"]]).status_code == 200

        assert 'data-kind="follow_up"' in _panel(client.get(f"/contacts/{contact['id']}").text)
        # another agency's signed-in user gets the not-found page, not the panel
        other = TestClient(app, follow_redirects=False)
        with other:
            login(other, other_tenant["admin_email"], other_tenant["password"])
            assert other.get(f"/contacts/{contact['id']}").status_code == 404

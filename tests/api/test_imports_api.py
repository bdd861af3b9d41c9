"""POST /api/v1/imports/{entity}: multipart or text/csv in, report out; 422 with row errors on a bad file."""

from __future__ import annotations

import json

from crm.tenancy import create_api_key
from tests.api.conftest import API, Api, assert_problem

CSV = b"E-mail,First Name,Company Website\nann@acme.com,Ann,acme.com\nbob@example.org,Bob,\n"


def test_multipart_upload_imports_and_reports(api):
    api.company(domain="acme.com")
    r = api.post("/imports/contacts", files={"file": ("contacts.csv", CSV, "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"] and report["created"] == 2 and report["updated"] == 0 and report["errors"] == []
    contacts = {c["email"]: c for c in api.list_all("contacts")}
    assert contacts["ann@acme.com"]["company_id"] is not None
    again = api.post("/imports/contacts", files={"file": ("contacts.csv", CSV, "text/csv")}).json()
    assert (again["created"], again["updated"]) == (0, 2)
    assert len(api.list_all("contacts")) == 2


def test_text_csv_body_with_mapping(api):
    body = b"Raison sociale,Site\nSoci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale,societe.example.fr\n"
    mapping = json.dumps({"Raison sociale": "name", "Site": "domain"})
    r = api.post("/imports/companies", content=body, params={"mapping": mapping},
                 headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert [c["name"] for c in api.list_all("companies")] == ["Soci\u00e9t\u00e9 G\u00e9n\u00e9rale"]
    form = api.post("/imports/companies", files={"file": ("c.csv", body, "text/csv")},
                    data={"mapping": mapping})
    assert form.status_code == 200 and form.json()["updated"] == 1


def test_bad_row_is_422_with_row_errors_and_nothing_written(api):
    data = b"email,lifecycle_stage\ngood@example.com,lead\nbad-email,lead\n"
    r = api.post("/imports/contacts", files={"file": ("c.csv", data, "text/csv")})
    problem = assert_problem(r, 422)
    assert problem["type"] == "/problems/import-rejected" and "nothing was imported" in problem["detail"]
    assert problem["errors"] == [{"row": 3, "column": "email", "reason": problem["errors"][0]["reason"]}]
    assert api.list_all("contacts") == []


def test_bad_encoding_unknown_entity_and_bad_requests(api):
    r = api.post("/imports/contacts", content="email\nm\u00fcller@example.com\n".encode("utf-16"),
                 headers={"content-type": "text/csv"})
    assert "UTF-8" in assert_problem(r, 422)["errors"][0]["reason"]
    assert "choose one of" in assert_problem(api.post("/imports/invoices", content=b"a\n1\n"), 404)["detail"]
    assert_problem(api.post("/imports/contacts", content=b""), 422)
    assert_problem(api.post("/imports/contacts", files={"other": ("c.csv", CSV, "text/csv")}), 422)
    assert_problem(api.post("/imports/contacts", content=CSV, params={"mapping": "{nope"}), 422)
    assert_problem(api.post("/imports/contacts", content=CSV, params={"mapping": "[1]"}), 422)
    assert_problem(api.post("/imports/contacts", content=b"--x\r\nbroken",
                            headers={"content-type": "multipart/form-data; boundary=x"}), 422)


def test_import_needs_a_writer(client, tenant):
    reader = Api(client, {"Authorization": f"Bearer {create_api_key(tenant['tenant_id'], 'read-only')['api_key']}"})
    assert_problem(reader.post("/imports/contacts", content=CSV), 403)
    assert_problem(client.post(f"{API}/imports/contacts", content=CSV), 401)
    member = Api(client, {"Authorization": f"Bearer {create_api_key(tenant['tenant_id'], 'member')['api_key']}"})
    assert member.post("/imports/contacts", content=b"email\nm@example.com\n").status_code == 200


def test_import_stays_in_the_callers_tenant(api, other_api):
    other_api.company(domain="theirs.example.com")
    r = api.post("/imports/contacts", content=b"email,company_domain\nx@example.com,theirs.example.com\n")
    assert assert_problem(r, 422)["errors"][0]["column"] == "company_domain"
    assert other_api.post("/imports/contacts", content=b"email\nshared@example.com\n").json()["created"] == 1
    assert api.post("/imports/contacts", content=b"email\nshared@example.com\n").json()["created"] == 1


def test_import_body_limit_is_20_mib(api):
    from api.limits import MAX_IMPORT_BODY

    big = b"email\n" + b"x" * (MAX_IMPORT_BODY + 1)
    assert "20 MiB" in assert_problem(api.post("/imports/contacts", content=big), 413)["detail"]

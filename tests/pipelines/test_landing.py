"""Landing folder: a file is loaded once (even renamed), bad rows are quarantined with a reason, the
sensor asks for a run only while something is pending, and nothing crosses tenants."""

import json
import shutil

from dagster import RunRequest, SkipReason, build_sensor_context
from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.ingest.landing import load_file, load_pending, pending_files
from crm.settings import get_settings
from pipelines.defs.ingest.sensors import landing_sensor
from tests.pipelines.factory import insert

CSV = """type,occurred_at,external_id,contact_email,subject,path
web_visit,2025-11-02T10:00:00Z,wv-1,ann@landing.example,,/pricing
email_opened,2025-11-02T11:00:00+01:00,eo-1,ANN@landing.example,Newsletter,
web_visit,2025-11-02T12:00:00Z,wv-2,nobody@else.example,,/blog
teleport,2025-11-02T12:00:00Z,tp-1,ann@landing.example,,
form_submit,yesterday,fs-1,ann@landing.example,,
form_submit,2025-11-03T09:00:00Z,,ann@landing.example,,
web_visit,2025-11-02T10:00:00Z,wv-1,ann@landing.example,,/pricing
"""


def _contact(tenant_id, email):
    with tenant_session(tenant_id) as s:
        return insert(s, "contacts", email=email, first_name="Ann")


def _activities(tenant_id):
    with tenant_session(tenant_id) as s:
        return s.execute(text("select type, external_id, source, contact_id::text, properties from activities "
                              "where source = 'landing' order by external_id")).all()


def test_landing_file_is_validated_loaded_once_and_bad_rows_quarantined(tenant, tmp_path):
    t = tenant["tenant_id"]
    contact = _contact(t, "ann@landing.example")
    folder = tmp_path / t
    folder.mkdir()
    path = folder / "web_export.csv"
    path.write_text(CSV)

    result = load_file(t, path)
    assert (result.loaded, result.duplicates, result.quarantined) == (2, 1, 4)
    rows = _activities(t)
    assert [(r.type, r.external_id) for r in rows] == [("email_opened", "eo-1"), ("web_visit", "wv-1")]
    assert all(r.contact_id == contact for r in rows)
    assert rows[1].properties == {"path": "/pricing"}  # extra columns land in properties
    with tenant_session(t) as s:
        reasons = [r[0] for r in s.execute(text("select reason from landing_quarantine order by line_number"))]
    assert len(reasons) == 4
    assert "no contact with email 'nobody@else.example'" in reasons[0]
    assert reasons[1].startswith("type 'teleport' is not one of")
    assert "not an ISO 8601 timestamp" in reasons[2]
    assert reasons[3].startswith("external_id is missing")

    again = load_file(t, path)
    assert again.already_loaded and again.loaded == 0
    renamed = folder / "web_export_copy.csv"
    shutil.copyfile(path, renamed)
    assert load_file(t, renamed).already_loaded  # same content, new name: still loaded once
    assert len(_activities(t)) == 2


def test_jsonl_rows_and_unparseable_lines(tenant, tmp_path):
    t = tenant["tenant_id"]
    _contact(t, "bo@landing.example")
    folder = tmp_path / t
    folder.mkdir()
    good = {"type": "email_clicked", "occurred_at": "2025-10-01T08:00:00Z", "external_id": "ec-9",
            "contact_email": "bo@landing.example", "properties": {"url": "/pricing"}, "source": "mailer"}
    (folder / "mailer.jsonl").write_text(json.dumps(good) + "\n{not json\n[1, 2]\n")
    result = load_file(t, folder / "mailer.jsonl")
    assert (result.loaded, result.quarantined) == (1, 2)
    with tenant_session(t) as s:
        row = s.execute(text("select source, properties from activities where external_id = 'ec-9'")).one()
    assert row.source == "mailer" and row.properties == {"url": "/pricing"}


def test_sensor_requests_a_run_only_while_files_are_pending(tenant, other_tenant):
    t = tenant["tenant_id"]
    _contact(t, "cy@landing.example")
    landing = get_settings().landing_dir
    folder = landing / t
    folder.mkdir(parents=True, exist_ok=True)
    line = {"type": "web_visit", "occurred_at": "2025-10-01T08:00:00Z", "external_id": "wv-s",
            "contact_email": "cy@landing.example"}
    (folder / "events.jsonl").write_text(json.dumps(line) + "\n")
    # A file in the other tenant's folder naming tenant A's contact is not resolved across tenants.
    other = landing / other_tenant["tenant_id"]
    other.mkdir(parents=True, exist_ok=True)
    (other / "events.jsonl").write_text(json.dumps(line) + "\n")
    (landing / "not-a-tenant").mkdir(exist_ok=True)

    mine = [f for f in pending_files() if f.tenant_id in (t, other_tenant["tenant_id"])]
    assert len(mine) == 2
    request = landing_sensor(build_sensor_context())
    assert isinstance(request, RunRequest) and request.run_key.startswith("landing-")

    results = load_pending()
    assert sorted((r.loaded, r.quarantined) for r in results) == [(0, 1), (1, 0)]
    with tenant_session(other_tenant["tenant_id"]) as s:
        reason = s.execute(text("select reason from landing_quarantine")).scalar_one()
        assert s.execute(text("select count(*) from activities")).scalar_one() == 0
    assert "no contact with email 'cy@landing.example'" in reason
    assert not [f for f in pending_files() if f.tenant_id in (t, other_tenant["tenant_id"])]
    assert isinstance(landing_sensor(build_sensor_context()), SkipReason)

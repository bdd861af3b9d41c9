"""While `crm demo` sets up, every dashboard page says how far it is; afterwards the banner is gone."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.web import app
from crm.setup_status import status_path, write_setup_status
from tests.dashboards.test_settings import login

BANNER = "Setting up the demo: training models and scoring (41/63 assets) - scores appear when it finishes"


def test_the_base_template_shows_the_setup_banner_from_the_status_file(tenant):
    try:
        with TestClient(app, follow_redirects=False) as client:
            login(client, tenant["admin_email"], tenant["password"])
            assert "setup-banner" not in client.get("/").text
            write_setup_status("pipeline", "training models and scoring", 41, 63, "assets")
            for page in ("/", "/leads", "/accounts"):
                r = client.get(page)
                assert r.status_code == 200 and BANNER in r.text, page
            write_setup_status("ready", "running the data pipeline")
            assert "setup-banner" not in client.get("/").text
    finally:
        status_path().unlink(missing_ok=True)

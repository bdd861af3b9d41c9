"""`/tenant/settings`: an agency's admin reads and changes its churn mode; other roles 403; bad values 422;
one agency's change never touches another's."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm.db.engine import admin_session
from crm.tenancy import create_api_key
from tests.api.conftest import Api, assert_problem


def _mode(tenant_id: str) -> str:
    with admin_session() as s:
        return s.execute(text("select churn_mode from tenants where id = :t"), {"t": tenant_id}).scalar_one()


def test_admin_reads_and_changes_the_churn_mode(api, tenant, other_tenant):
    before = api.get("/tenant/settings")
    assert before.status_code == 200, before.text
    assert before.json()["churn_mode"] == "contractual" and before.json()["tenant_id"] == tenant["tenant_id"]
    changed = api.patch("/tenant/settings", {"churn_mode": "activity"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["churn_mode"] == "activity"
    assert changed.json()["updated_at"] > before.json()["updated_at"]
    assert api.get("/tenant/settings").json()["churn_mode"] == "activity"
    assert _mode(tenant["tenant_id"]) == "activity"
    assert _mode(other_tenant["tenant_id"]) == "contractual"  # the other agency is untouched
    assert api.patch("/tenant/settings", {}).json()["churn_mode"] == "activity"  # nothing asked, nothing changed


def test_each_agency_sees_and_changes_only_its_own_settings(api, other_api, tenant, other_tenant):
    assert other_api.patch("/tenant/settings", {"churn_mode": "activity"}).status_code == 200
    assert api.get("/tenant/settings").json()["tenant_id"] == tenant["tenant_id"]
    assert api.get("/tenant/settings").json()["churn_mode"] == "contractual"
    # a tenant id in the body is not a way to reach another agency's row: unknown fields are refused
    r = api.patch("/tenant/settings", {"churn_mode": "activity", "tenant_id": other_tenant["tenant_id"]})
    assert_problem(r, 422)
    assert _mode(tenant["tenant_id"]) == "contractual" and _mode(other_tenant["tenant_id"]) == "activity"


def test_invalid_churn_mode_is_422_problem(api, tenant):
    for body in ({"churn_mode": "weekly"}, {"churn_mode": 3}, {"churn_mode": ""}):
        r = api.patch("/tenant/settings", body)
        assert_problem(r, 422)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _mode(tenant["tenant_id"]) == "contractual"


@pytest.mark.parametrize("role", ["member", "read-only"])
def test_only_admins_read_or_change_settings(client, tenant, role):
    key = create_api_key(tenant["tenant_id"], role=role)
    other = Api(client, {"Authorization": f"Bearer {key['api_key']}"})
    assert_problem(other.get("/tenant/settings"), 403)
    assert_problem(other.patch("/tenant/settings", {"churn_mode": "activity"}), 403)
    assert _mode(tenant["tenant_id"]) == "contractual"

"""No row joins across tenants: ids made to collide across tenants change nothing for either tenant,
and a row pointing at another tenant's parent fails the same_tenant_relationship test."""

import shutil
from datetime import date

import duckdb

from pipelines.lib.dbt_cli import run_dbt
from tests.dbt.conftest import dbt_ok
from tests.pipelines.factory import DBT_VARS


def _copy_warehouse(built, tmp_path):
    home = tmp_path / "collide"
    home.mkdir()
    shutil.copyfile(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    return home


def test_colliding_ids_across_tenants_do_not_leak(built, tmp_path):
    home = _copy_warehouse(built, tmp_path)
    a, b, l1, d1 = built["a"], built["b"], built["ids_a"]["L1"], built["ids_b"]["D1"]
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    # Tenant B gets a contact with tenant A's L1 id, very engaged, who became a customer on 04-15 ...
    con.execute("""insert into raw.contacts (id, tenant_id, email, first_name, last_name, lifecycle_stage,
                   created_at, updated_at) values (?, ?, 'twin@b.example', 'Twin', '', 'lead',
                   timestamptz '2025-01-01 00:00+00', now())""", [l1, b])
    for day in (28, 29, 30):
        con.execute("""insert into raw.activities (id, tenant_id, type, occurred_at, contact_id, properties, source,
                       created_at, updated_at) values (uuid(), ?, 'email_replied', ?, ?, '{}', 'api', now(), now())""",
                    [b, f"2025-03-{day} 10:00+00", l1])
    pipeline, stage = con.execute("select pipeline_id, id from raw.pipeline_stages where tenant_id = ? limit 1",
                                  [a]).fetchone()
    con.execute("insert into raw.pipelines (id, tenant_id, name, is_default, created_at, updated_at) "
                "values (?, ?, 'B sales', true, now(), now())", [pipeline, b])
    con.execute("""insert into raw.pipeline_stages (id, tenant_id, pipeline_id, name, position, win_probability,
                   is_won, is_lost, created_at, updated_at) values (?, ?, ?, 'Won', 9, 1, true, false, now(), now())""",
                [stage, b, pipeline])
    con.execute("""insert into raw.deals (id, tenant_id, name, contact_id, company_id, pipeline_id, stage_id, amount,
                   currency, status, closed_at, created_at, updated_at) values (uuid(), ?, 'B win', ?, ?, ?, ?, 99,
                   'USD', 'won', timestamptz '2025-04-15 10:00+00', now(), now())""", [b, l1, d1, pipeline, stage])
    con.close()

    # the lead features' whole lineage, with its tests (keys per tenant, same-tenant relationships)
    dbt_ok(run_dbt(["build", "--select", "+lead_features"], "duckdb", crm_home=home, vars=DBT_VARS))

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)

    def lead(tenant, as_of):
        return con.execute("select emails_replied_90d, converted_90d from marts.lead_features "
                           "where tenant_id = ? and contact_id = ? and as_of_date = ?", [tenant, l1, as_of]).fetchone()
    # Tenant A's L1 is untouched: its own replies only, still a lead at 04-30 (its own win is 06-29).
    assert lead(a, date(2025, 3, 31)) == (1, 1)
    assert lead(a, date(2025, 4, 30)) == (2, 1)
    # Tenant B's twin has its own three replies and converts on 04-15.
    assert lead(b, date(2025, 3, 31)) == (3, 1)
    assert lead(b, date(2025, 4, 30)) is None
    con.close()


def test_cross_tenant_reference_fails_the_tenant_relationship_test(built, tmp_path):
    home = _copy_warehouse(built, tmp_path)
    a, b = built["a"], built["b"]
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    # A tenant-B contact pointing at tenant A's company: the kind of row a join without tenant_id would accept.
    con.execute("""insert into raw.contacts (id, tenant_id, company_id, email, first_name, last_name, lifecycle_stage,
                   created_at, updated_at) values (uuid(), ?, ?, 'stray@b.example', 'S', '', 'lead', now(), now())""",
                [b, built["ids_a"]["C1"]])
    con.close()
    proc = run_dbt(["test", "--select", "stg_crm__contacts"], "duckdb", crm_home=home, vars=DBT_VARS)
    assert proc.returncode != 0
    assert "FAIL 1 same_tenant_relationship_stg_crm__contacts_company_id" in proc.stdout
    assert a  # tenant A's own rows are valid: only the stray row fails

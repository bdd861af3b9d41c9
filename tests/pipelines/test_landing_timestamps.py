"""A landing file row outside the product's timestamp range is quarantined with its reason; the rest loads."""

from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.ingest.landing import load_file
from tests.pipelines.factory import insert

CSV = """type,occurred_at,external_id,company_id
web_visit,0001-01-01T00:00:00+01:00,bc-1,{c}
web_visit,1899-12-31T23:59:59Z,old-1,{c}
web_visit,1900-01-01T00:00:00Z,edge-1,{c}
web_visit,2025-11-02T10:00:00,naive-1,{c}
"""


def test_out_of_range_rows_are_quarantined_and_the_rest_loads(tenant, tmp_path):
    t = tenant["tenant_id"]
    with tenant_session(t) as s:
        company = insert(s, "companies", name="Landing Co")
    path = tmp_path / "web.csv"
    path.write_text(CSV.format(c=company))
    result = load_file(t, path)
    assert (result.loaded, result.quarantined) == (2, 2)
    with tenant_session(t) as s:
        held = s.execute(text("select line_number, reason from landing_quarantine order by line_number")).all()
        stored = dict(s.execute(text("select external_id, occurred_at from activities")).all())
    assert [h.line_number for h in held] == [2, 3]
    assert all("occurred_at" in h.reason and "supported range" in h.reason for h in held)
    assert set(stored) == {"edge-1", "naive-1"}
    assert stored["naive-1"].utcoffset().total_seconds() == 0 and stored["naive-1"].hour == 10

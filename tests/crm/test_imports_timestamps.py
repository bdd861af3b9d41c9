"""CSV import refuses timestamps and dates outside the product's range, naming line and column."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.db.engine import tenant_session
from crm.db.models import Activity, Company
from crm.imports import import_csv


def _count(tenant_id: str, model) -> int:
    with tenant_session(tenant_id) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_activity_rows_outside_the_range_are_reported_and_nothing_is_imported(tenant):
    t = tenant["tenant_id"]
    import_csv(t, "companies", b"name,domain\nAcme,acme.com\n")
    data = (b"type,date,company_domain\n"
            b"call,2026-01-01T10:00:00Z,acme.com\n"
            b"call,0001-01-01T00:00:00+01:00,acme.com\n"
            b"call,2100-01-01T00:00:00Z,acme.com\n"
            b"call,1900-01-01,acme.com\n"
            b"call,1899-12-31T23:59:59,acme.com\n")
    report = import_csv(t, "activities", data)
    assert not report.ok and report.created == 0
    assert [(e.row, e.column) for e in report.errors] == [(3, "date"), (4, "date"), (6, "date")]
    assert all("supported range" in e.reason for e in report.errors)
    assert _count(t, Activity) == 0

    fixed = import_csv(t, "activities", b"type,date,company_domain\ncall,1900-01-01T00:00:00Z,acme.com\n"
                                        b"call,2026-03-01 09:00,acme.com\n")
    assert fixed.ok and fixed.created == 2, fixed.errors


def test_company_and_deal_dates_outside_the_range_are_reported(tenant):
    t = tenant["tenant_id"]
    report = import_csv(t, "companies", b"name,customer_since\nOld,0001-01-01\nNew,2099-12-31\n")
    assert [(e.row, e.column) for e in report.errors] == [(2, "customer_since")]
    assert "supported range" in report.errors[0].reason and _count(t, Company) == 0
    deals = import_csv(t, "deals", b"name,close_date\nFar,2100-01-01\n")
    assert [(e.row, e.column) for e in deals.errors] == [(2, "close_date")]
    assert "supported range" in deals.errors[0].reason

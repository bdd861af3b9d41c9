"""Spend as first-class data: activities.amount / currency (migration 0013) through every write path: the service
(and the lift from properties), events and landing files, the CSV import, and the backfill of older rows."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from crm.db.engine import admin_engine, tenant_session
from crm.db.migrate import alembic_config
from crm.db.models import Activity
from crm.imports import import_csv
from crm.ingest.landing import load_file
from crm.schemas.activities import ActivityCreate, ActivityUpdate
from crm.services import activities
from tests.pipelines.factory import insert

AT = "2026-03-01T10:00:00Z"


def _company(tenant_id: str, name: str = "Shop Ltd", domain: str = "shop.example") -> str:
    with tenant_session(tenant_id) as s:
        return insert(s, "companies", name=name, domain=domain, lifecycle="customer")


def test_an_order_keeps_amount_and_currency_rounded_to_cents(tenant):
    company = _company(tenant["tenant_id"])
    with tenant_session(tenant["tenant_id"]) as s:
        a = activities.create(s, ActivityCreate(type="order", occurred_at=AT, company_id=company,
                                                amount="129.955", currency="eur"))
        b = activities.create(s, ActivityCreate(type="call", occurred_at=AT, company_id=company))
    with tenant_session(tenant["tenant_id"]) as s:
        stored = {x.id: x for x in s.scalars(select(Activity))}
    assert (stored[a.id].amount, stored[a.id].currency) == (Decimal("129.96"), "EUR")
    assert (stored[b.id].amount, stored[b.id].currency) == (None, None)  # no tenant default currency


@pytest.mark.parametrize(("field", "value"), [("amount", "-1"), ("amount", "NaN"), ("amount", "1e13"),
                                              ("amount", "ten"), ("currency", "EURO"), ("currency", "€")])
def test_a_bad_amount_or_currency_is_refused_by_the_schema(field, value):
    with pytest.raises(ValidationError, match=field):
        ActivityCreate(type="order", occurred_at=AT, **{field: value})


def test_the_database_refuses_a_negative_amount_or_a_lower_case_currency_from_any_path(tenant):
    for column, value in (("amount", -5), ("currency", "usd")):
        with pytest.raises(IntegrityError, match=f"activities_{column}_check"), \
                tenant_session(tenant["tenant_id"]) as s:
            insert(s, "activities", type="order", occurred_at=AT, **{column: value})


def test_properties_amount_is_lifted_when_the_columns_are_not_given(tenant):
    company = _company(tenant["tenant_id"])
    with tenant_session(tenant["tenant_id"]) as s:
        lifted = activities.create(s, ActivityCreate(type="order", occurred_at=AT, company_id=company,
                                                     properties={"amount": 42.5, "currency": "gbp", "qty": 2}))
        own = activities.create(s, ActivityCreate(type="order", occurred_at=AT, company_id=company, amount="10",
                                                  currency="USD", properties={"amount": 99, "currency": "EUR"}))
        junk = activities.create(s, ActivityCreate(type="order", occurred_at=AT, company_id=company,
                                                   properties={"amount": "about 40", "currency": "pounds"}))
        assert (lifted.amount, lifted.currency) == (Decimal("42.50"), "GBP")
        assert lifted.properties == {"amount": 42.5, "currency": "gbp", "qty": 2}  # properties stay as sent
        assert (own.amount, own.currency) == (Decimal("10.00"), "USD")
        assert (junk.amount, junk.currency) == (None, None)  # free-form properties never fail a write
        # a change of properties alone moves the lifted amount; one that sets amount itself wins
        activities.update(s, lifted, ActivityUpdate(properties={"amount": "50"}))
        activities.update(s, own, ActivityUpdate(amount="11.5", properties={"amount": 1}))
        assert (lifted.amount, lifted.currency) == (Decimal("50.00"), "GBP")
        assert own.amount == Decimal("11.50")
        activities.update(s, own, ActivityUpdate(amount=None))
        assert own.amount is None


def test_events_carry_amount_and_a_bad_one_rejects_only_that_event(tenant):
    company = _company(tenant["tenant_id"])
    events = [
        {"type": "order", "occurred_at": AT, "external_id": "o1", "company_id": company, "amount": "19.99",
         "currency": "usd"},
        {"type": "order", "occurred_at": AT, "external_id": "o2", "company_id": company,
         "properties": {"amount": 7, "currency": "EUR"}},
        {"type": "order", "occurred_at": AT, "external_id": "o3", "company_id": company, "amount": "-3"},
        {"type": "order", "occurred_at": AT, "external_id": "o4", "company_id": company, "amount": 5,
         "currency": "dollars"},
    ]
    with tenant_session(tenant["tenant_id"]) as s:
        outcomes = activities.ingest(s, events, default_source="shop")
    assert [o.status for o in outcomes] == ["accepted", "accepted", "rejected", "rejected"]
    assert "amount '-3'" in outcomes[2].reason and "currency 'dollars'" in outcomes[3].reason
    with tenant_session(tenant["tenant_id"]) as s:
        rows = {a.external_id: a for a in s.scalars(select(Activity))}
    assert (rows["o1"].amount, rows["o1"].currency, rows["o1"].properties) == (Decimal("19.99"), "USD", {})
    assert (rows["o2"].amount, rows["o2"].currency) == (Decimal("7.00"), "EUR")


def test_a_landing_file_maps_amount_columns_and_quarantines_a_bad_amount(tenant, tmp_path):
    company = _company(tenant["tenant_id"])
    path = tmp_path / "orders.csv"
    path.write_text("type,occurred_at,external_id,company_id,amount,currency,sku\n"
                    f"order,{AT},L1,{company},120.00,EUR,A-1\n"
                    f"order,{AT},L2,{company},lots,EUR,A-2\n")
    result = load_file(tenant["tenant_id"], path)
    assert (result.loaded, result.quarantined) == (1, 1)
    with tenant_session(tenant["tenant_id"]) as s:
        row = s.scalars(select(Activity)).one()
        reason = s.execute(text("select reason from landing_quarantine")).scalar_one()
    assert (row.amount, row.currency, row.properties) == (Decimal("120.00"), "EUR", {"sku": "A-1"})
    assert reason.startswith("amount 'lots' is not valid")


ORDERS = (b"Type,Date,Company Website,Order ID,Order Total,Currency\n"
          b"order,2026-03-01,shop.example,S-1,\"$1,250.50\",eur\n"
          b"order,2026-03-02,shop.example,S-2,80,\n"
          b"order,2026-03-03,shop.example,S-3,,\n")


def test_csv_import_reads_amount_aliases_and_reports_a_bad_amount_per_row(tenant):
    t = tenant["tenant_id"]
    _company(t)
    bad = import_csv(t, "activities", ORDERS.replace(b"S-2,80,", b"S-2,eighty,").replace(b"S-3,,", b"S-3,-4,"))
    assert not bad.ok and bad.created == 0
    assert [(e.row, e.column) for e in bad.errors] == [(3, "Order Total"), (4, "Order Total")]
    report = import_csv(t, "activities", ORDERS)
    assert report.ok and report.created == 3, report.errors
    assert (report.columns["Order Total"], report.columns["Currency"]) == ("amount", "currency")
    with tenant_session(t) as s:
        rows = {a.external_id: a for a in s.scalars(select(Activity))}
    assert (rows["S-1"].amount, rows["S-1"].currency) == (Decimal("1250.50"), "EUR")
    assert (rows["S-2"].amount, rows["S-2"].currency) == (Decimal("80.00"), None)
    assert rows["S-3"].amount is None
    # a re-import corrects an amount in place
    again = import_csv(t, "activities", ORDERS.replace(b"S-2,80,", b"S-2,85.5,USD"))
    assert (again.created, again.updated) == (0, 3)
    with tenant_session(t) as s:
        fixed = s.scalars(select(Activity).where(Activity.external_id == "S-2")).one()
    assert (fixed.amount, fixed.currency) == (Decimal("85.50"), "USD")


def test_migration_0013_backfills_amounts_from_properties_and_goes_down_and_up(tenant):
    t = tenant["tenant_id"]
    planted = {"number": ({"amount": 129.5, "currency": "EUR"}, Decimal("129.50"), "EUR"),
               "text": ({"amount": " 12.345 ", "currency": "usd"}, Decimal("12.35"), "USD"),
               "junk": ({"amount": "12,00", "currency": "EURO"}, None, None),
               "negative": ({"amount": -3, "currency": "GBP"}, None, "GBP"),
               "huge": ({"amount": "1000000000000"}, None, None),
               "none": ({"page": "/pricing"}, None, None)}
    with admin_engine().begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
        assert "amount" not in {r[0] for r in conn.execute(text(
            "select column_name from information_schema.columns where table_name = 'activities'"))}
        for key, (props, _, _) in planted.items():
            conn.execute(text("insert into activities (tenant_id, type, occurred_at, external_id, properties) "
                              "values (:t, 'order', now(), :k, cast(:p as jsonb))"),
                         {"t": t, "k": key, "p": json.dumps(props)})
        command.upgrade(cfg, "head")
    with tenant_session(t) as s:
        rows = {a.external_id: a for a in s.scalars(select(Activity))}
    for key, (props, amount, currency) in planted.items():
        assert (rows[key].amount, rows[key].currency, rows[key].properties) == (amount, currency, props), key


def test_another_tenants_activity_stays_invisible(tenant, other_tenant):
    company = _company(other_tenant["tenant_id"])
    with tenant_session(other_tenant["tenant_id"]) as s:
        theirs = activities.create(s, ActivityCreate(type="order", occurred_at=AT, company_id=company, amount="5"))
    with tenant_session(tenant["tenant_id"]) as s:
        assert s.get(Activity, theirs.id) is None
        assert s.scalar(select(Activity.id).where(Activity.amount.is_not(None))) is None
    assert isinstance(theirs.id, uuid.UUID)

"""CSV import library: mapping, validation, natural-key upsert, all-or-nothing with a row-level report."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from crm.db.engine import tenant_session
from crm.db.models import Activity, Company, Contact, Deal, DealStageHistory, Pipeline, PipelineStage
from crm.imports import ImportRequestError, import_csv


def _count(tenant_id: str, model) -> int:
    with tenant_session(tenant_id) as s:
        return s.scalar(select(func.count()).select_from(model))


def _rows(tenant_id: str, model, order=None) -> list:
    with tenant_session(tenant_id) as s:
        return list(s.scalars(select(model).order_by(order if order is not None else model.created_at)))


def _pipeline(tenant_id: str) -> None:
    with tenant_session(tenant_id) as s:
        p = Pipeline(tenant_id=uuid.UUID(tenant_id), name="Sales", is_default=True)
        s.add(p)
        s.flush()
        for i, (name, won, lost) in enumerate([("Lead in", False, False), ("Proposal", False, False),
                                               ("Won", True, False), ("Lost", False, True)]):
            s.add(PipelineStage(tenant_id=p.tenant_id, pipeline_id=p.id, name=name, position=i,
                                win_probability=1.0 if won else 0.2, is_won=won, is_lost=lost))


COMPANIES = b"""Company Name,Website,Industry,Employees,Status
Acme Corp,https://www.acme.com/about,Retail,35,Customer
Globex,globex.io,Energy,,prospect
Initech,,Software,1200,
"""

CONTACTS = """\ufeffE-mail,First Name,Last Name,Job Title,Company Website,Company,Lead Source
ann@acme.com,Ann,Lee,CMO,acme.com,,webinar
bob@globex.io,Bob,Ng,,,Globex,referral
cy@example.org,Cy,,,,,
""".encode()


def test_companies_contacts_with_aliases_and_references(tenant):
    t = tenant["tenant_id"]
    report = import_csv(t, "companies", COMPANIES)
    assert report.ok and (report.created, report.updated, report.rows) == (3, 0, 3)
    assert report.columns == {"Company Name": "name", "Website": "domain", "Industry": "industry",
                              "Employees": "size", "Status": "lifecycle"}
    companies = {c.name: c for c in _rows(t, Company)}
    assert companies["Acme Corp"].domain == "acme.com" and companies["Acme Corp"].size == "11-50"
    assert companies["Acme Corp"].lifecycle == "customer" and companies["Initech"].size == "1000+"
    assert companies["Initech"].domain is None and companies["Initech"].lifecycle == "prospect"

    report = import_csv(t, "contacts", CONTACTS)
    assert report.ok and report.created == 3, report.errors
    contacts = {c.email: c for c in _rows(t, Contact)}
    assert contacts["ann@acme.com"].company_id == companies["Acme Corp"].id
    assert contacts["bob@globex.io"].company_id == companies["Globex"].id  # by name
    assert contacts["cy@example.org"].company_id is None
    assert contacts["ann@acme.com"].title == "CMO" and contacts["bob@globex.io"].lead_source == "referral"


def test_reimport_updates_and_never_duplicates(tenant):
    t = tenant["tenant_id"]
    import_csv(t, "companies", COMPANIES)
    import_csv(t, "contacts", CONTACTS)
    again = import_csv(t, "contacts", b"Email,Job Title,Last Name\nANN@acme.com,CEO,\nnew@example.org,,New\n")
    assert again.ok and (again.created, again.updated) == (1, 1)
    assert _count(t, Contact) == 4
    ann = next(c for c in _rows(t, Contact) if c.email == "ann@acme.com")
    assert ann.title == "CEO" and ann.last_name == "Lee"  # a blank cell keeps the stored value
    same = import_csv(t, "companies", COMPANIES)
    assert (same.created, same.updated) == (0, 3) and _count(t, Company) == 3


def test_one_bad_row_imports_nothing_and_names_the_row(tenant):
    t = tenant["tenant_id"]
    data = b"email,first_name,lifecycle_stage\nok1@example.com,A,lead\nnot-an-email,B,lead\nok2@example.com,C,king\n"
    report = import_csv(t, "contacts", data)
    assert not report.ok and report.created == 0 and report.updated == 0
    assert [(e.row, e.column) for e in report.errors] == [(3, "email"), (4, "lifecycle_stage")]
    assert "email" in report.errors[0].reason
    assert _count(t, Contact) == 0


def test_row_numbers_are_file_lines_even_with_multiline_cells(tenant):
    data = b'email,title\na@example.com,"two\nlines"\n\nbad,x\n'
    report = import_csv(tenant["tenant_id"], "contacts", data)
    assert [e.row for e in report.errors] == [5]


def test_bad_encoding_is_a_clear_error(tenant):
    latin1 = "email,last_name\na@example.com,M\u00fcller\n".encode("latin-1")
    report = import_csv(tenant["tenant_id"], "contacts", latin1)
    assert not report.ok and report.errors[0].row == 2 and "not UTF-8" in report.errors[0].reason
    for data, words in ((b"", "empty"), (b"first_name\nAnn\n", "no column for email"),
                        (b"email\x00\n", "NUL")):
        report = import_csv(tenant["tenant_id"], "contacts", data)
        assert not report.ok and words in report.errors[0].reason


def test_unknown_entity_and_tenant(tenant):
    with pytest.raises(ImportRequestError, match="choose one of companies, contacts, deals, activities"):
        import_csv(tenant["tenant_id"], "invoices", b"x\n1\n")
    with pytest.raises(ImportRequestError, match="no tenant"):
        import_csv(str(uuid.uuid4()), "contacts", b"email\na@example.com\n")
    with pytest.raises(ImportRequestError, match="not a tenant id"):
        import_csv("acme", "contacts", b"email\na@example.com\n")


def test_references_never_resolve_across_tenants(tenant, other_tenant):
    import_csv(other_tenant["tenant_id"], "companies", b"name,domain\nTheirs,theirs.example.com\n")
    import_csv(other_tenant["tenant_id"], "contacts", b"email\nspy@theirs.example.com\n")
    report = import_csv(tenant["tenant_id"], "contacts", b"email,company_domain\nme@mine.com,theirs.example.com\n")
    assert not report.ok and report.errors[0].column == "company_domain"
    report = import_csv(tenant["tenant_id"], "activities",
                        b"type,occurred_at,contact_email\ncall,2026-01-01,spy@theirs.example.com\n")
    assert not report.ok and report.errors[0].column == "contact_email"
    # the same natural key in another tenant is a different row: importing creates, never updates theirs
    mine = import_csv(tenant["tenant_id"], "contacts", b"email,title\nspy@theirs.example.com,Mine\n")
    assert mine.created == 1 and mine.updated == 0
    theirs = _rows(other_tenant["tenant_id"], Contact)
    assert [c.title for c in theirs] == [None]


def test_explicit_mapping_and_ignored_columns(tenant):
    data = b"Courriel;Pr\xc3\xa9nom;Notes internes\nzoe@example.fr;Zo\xc3\xa9;ignore me\n"
    mapping = {"courriel": "email", "PR\u00c9NOM": "first_name"}
    report = import_csv(tenant["tenant_id"], "contacts", data, mapping=mapping)
    assert report.ok, report.errors
    assert report.ignored_columns == ["Notes internes"]
    assert _rows(tenant["tenant_id"], Contact)[0].first_name == "Zo\u00e9"
    bad = import_csv(tenant["tenant_id"], "contacts", data, mapping={"Courriel": "e-mail-address"})
    assert not bad.ok and "not a field" in bad.errors[0].reason


def test_duplicate_keys_within_a_file_are_errors(tenant):
    report = import_csv(tenant["tenant_id"], "contacts", b"email\na@example.com\nA@example.com\n")
    assert not report.ok and report.errors[0].row == 3 and "line 2" in report.errors[0].reason
    report = import_csv(tenant["tenant_id"], "companies", b"name,website\nA,a.com\nB,https://A.com\n")
    assert not report.ok and report.errors[0].row == 3
    report = import_csv(tenant["tenant_id"], "contacts", b"email,e-mail\na@example.com,b@example.com\n")
    assert not report.ok and "both map to 'email'" in report.errors[0].reason


def test_wide_rows_and_name_collisions(tenant):
    t = tenant["tenant_id"]
    report = import_csv(t, "contacts", b"email,title\na@example.com,CEO,extra\n")
    assert not report.ok and report.errors[0].row == 2 and "cells" in report.errors[0].reason
    import_csv(t, "companies", b"name,domain\nTwin,twin-a.com\nTwin,twin-b.com\n")
    report = import_csv(t, "contacts", b"email,company\nx@example.com,Twin\n")
    assert not report.ok and "2 companies named 'Twin'" in report.errors[0].reason


def test_deals_resolve_company_contact_stage_and_keep_history(tenant):
    t = tenant["tenant_id"]
    no_pipeline = import_csv(t, "deals", b"name\nEarly\n")
    assert not no_pipeline.ok and "no pipeline" in no_pipeline.errors[0].reason
    _pipeline(t)
    import_csv(t, "companies", COMPANIES)
    import_csv(t, "contacts", CONTACTS)
    data = b'Deal Name,Amount,Currency,Stage,Company Domain,Contact Email,Close Date\n' \
           b'SEO retainer,"$12,000.50",eur,Proposal,acme.com,ann@acme.com,2027-01-31\n' \
           b'SEO retainer,500,,,globex.io,,\n'
    report = import_csv(t, "deals", data)
    assert report.ok and report.created == 2, report.errors
    deals = {(d.name, d.amount): d for d in _rows(t, Deal)}
    acme_deal = next(d for d in deals.values() if d.currency == "EUR")
    assert str(acme_deal.amount) == "12000.50" and acme_deal.status == "open"
    assert acme_deal.contact_id is not None and str(acme_deal.expected_close_date) == "2027-01-31"

    won = import_csv(t, "deals", b"name,company_domain,stage\nSEO retainer,acme.com,won\n")
    assert (won.created, won.updated) == (0, 1)
    with tenant_session(t) as s:
        deal = s.get(Deal, acme_deal.id)
        assert deal.status == "won" and deal.closed_at is not None and deal.amount == acme_deal.amount
        history = s.scalars(select(DealStageHistory).where(DealStageHistory.deal_id == deal.id)
                            .order_by(DealStageHistory.changed_at)).all()
        assert len(history) == 2 and history[1].from_stage_id == acme_deal.stage_id
    assert _count(t, Deal) == 2
    bad = import_csv(t, "deals", b"name,stage,pipeline\nX,Nowhere,\nY,,Marketing\n")
    assert [(e.row, e.column) for e in bad.errors] == [(2, "stage"), (3, "pipeline")]


def test_activities_insert_and_dedupe_by_external_id(tenant):
    t = tenant["tenant_id"]
    import_csv(t, "companies", COMPANIES)
    import_csv(t, "contacts", CONTACTS)
    data = b'Type,Date,Email,External ID,Subject,Properties\n' \
           b'Email Opened,2026-03-01 09:00,ann@acme.com,evt-1,Newsletter,"{""campaign"": ""spring""}"\n' \
           b'web_visit,2026-03-02T10:00:00+02:00,,evt-2,,\n' \
           b'call,2026-03-03,bob@globex.io,,Intro call,\n'
    report = import_csv(t, "activities", data)
    assert report.ok and report.created == 3, report.errors
    rows = {a.external_id: a for a in _rows(t, Activity)}
    assert rows["evt-1"].type == "email_opened" and rows["evt-1"].properties == {"campaign": "spring"}
    assert rows["evt-1"].company_id is not None  # taken from the contact's company
    assert rows["evt-1"].occurred_at.utcoffset().total_seconds() == 0 and rows["evt-1"].occurred_at.hour == 9
    assert rows["evt-2"].occurred_at.hour == 8
    assert {a.source for a in rows.values()} == {"csv_import"}
    again = import_csv(t, "activities", data)
    assert (again.created, again.updated) == (1, 2)  # external ids dedupe; a row without one is a new event
    assert _count(t, Activity) == 4
    bad = import_csv(t, "activities", b"type,date,properties\ncall,yesterday,\nnap,2026-01-01,\ncall,2026-01-01,[1\n")
    assert [(e.row, e.column) for e in bad.errors] == [(2, "date"), (3, "type"), (4, "properties")]


def test_error_list_is_capped(tenant):
    data = b"email\n" + b"".join(b"bad%d\n" % i for i in range(600))
    report = import_csv(tenant["tenant_id"], "contacts", data)
    assert len(report.errors) == 501 and "100 more" in report.errors[-1].reason


def test_churned_companies_and_ambiguous_names(tenant):
    t = tenant["tenant_id"]
    import_csv(t, "companies", b"name,domain,lifecycle\nGone,gone.example.com,customer\n")
    churned = import_csv(t, "companies", b"name,domain,lifecycle\nGone,gone.example.com,churned\n")
    assert churned.updated == 1
    assert _rows(t, Company)[0].churned_at is not None  # the data platform's churn label reads it
    import_csv(t, "companies", b"name,domain,lifecycle\nGone,gone.example.com,customer\n")
    assert _rows(t, Company)[0].churned_at is None
    with tenant_session(t) as s:
        s.add_all([Company(tenant_id=uuid.UUID(t), name="Same"), Company(tenant_id=uuid.UUID(t), name="same")])
    report = import_csv(t, "companies", b"name,industry\nSAME,Media\n")
    assert not report.ok and "2 companies are named" in report.errors[0].reason


def test_deals_move_between_named_pipelines(tenant):
    t = tenant["tenant_id"]
    _pipeline(t)
    with tenant_session(t) as s:
        s.add(Pipeline(tenant_id=uuid.UUID(t), name="Renewals"))
        s.add(Pipeline(tenant_id=uuid.UUID(t), name="Empty"))
        s.flush()
        renewals = s.scalar(select(Pipeline).where(Pipeline.name == "Renewals"))
        s.add(PipelineStage(tenant_id=renewals.tenant_id, pipeline_id=renewals.id, name="Due", position=0))
    assert import_csv(t, "deals", b"name,amount\nAnnual,100\n").created == 1
    moved = import_csv(t, "deals", b"name,pipeline\nAnnual,renewals\n")
    assert moved.updated == 1, moved.errors
    deal = _rows(t, Deal)[0]
    with tenant_session(t) as s:
        stage = s.get(PipelineStage, deal.stage_id)
        assert stage.name == "Due" and deal.pipeline_id == stage.pipeline_id and deal.amount == 100
    bad = import_csv(t, "deals", b"name,pipeline,contact_email\nAnnual,Empty,\nOther,,ghost@example.com\n")
    assert [(e.row, e.column) for e in bad.errors] == [(2, "pipeline"), (3, "contact_email")]


def test_a_row_the_database_refuses_is_reported_against_its_line(tenant):
    """A row the database refuses (a constraint the row models and services do not know, here a check
    constraint) is reported against its line, and nothing of the file is kept."""
    from sqlalchemy import text

    from crm.db.engine import admin_engine

    t = tenant["tenant_id"]
    rows = "".join(f"ok{i}@example.com\n" for i in range(600))
    data = f"email\n{rows}evil@example.com\nlast@example.com\n".encode()
    with admin_engine().begin() as conn:
        conn.execute(text("alter table contacts add constraint zz_test_no_evil "
                          "check (email not like 'evil%') not valid"))
    try:
        report = import_csv(t, "contacts", data)
    finally:
        with admin_engine().begin() as conn:
            conn.execute(text("alter table contacts drop constraint zz_test_no_evil"))
    assert not report.ok and report.created == 0
    assert [e.row for e in report.errors] == [602] and "refused" in report.errors[0].reason
    assert _count(t, Contact) == 0
    assert import_csv(t, "contacts", data).created == 602   # constraint gone

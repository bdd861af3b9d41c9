"""The four importable entities: their header aliases, row model, natural key, resolution and upsert.

An import only reads the file: it maps headers, finds existing rows by natural key and turns names
(company domain, contact email, pipeline and stage names) into ids. Every row is then written through the
domain services (crm.services), which own the rules: a deal's status follows its stage, churned_at follows
lifecycle, an event counts for its contact's company.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from crm.db.models import Activity, Company, Contact, Deal
from crm.imports import lookup
from crm.imports.rows import ActivityRow, CompanyRow, ContactRow, DealRow, Row
from crm.schemas.activities import ActivityUpdate
from crm.schemas.companies import CompanyCreate, CompanyUpdate
from crm.schemas.contacts import ContactCreate, ContactUpdate
from crm.schemas.deals import DealCreate, DealUpdate
from crm.services import activities, companies, contacts, deals, pipelines
from crm.services.errors import DomainError

IMPORT_SOURCE = "csv_import"   # activities.source of imported rows; external_id is unique per source


@dataclass
class Pending:
    """One valid row on its way in: `data` holds only the cells the file filled."""

    line: int
    data: dict[str, Any]
    existing: Any = None
    key: Any = None       # natural key; two rows with the same key in one file are an error
    values: dict[str, Any] = field(default_factory=dict)   # fields to write after resolution
    pipeline_id: Any = None   # deals: the pipeline the file names


@dataclass
class Ctx:
    session: Session
    tenant_id: uuid.UUID
    errors: list[tuple[int, str | None, str]] = field(default_factory=list)   # (line, field, reason)

    def error(self, p: Pending, field_name: str | None, reason: str) -> None:
        self.errors.append((p.line, field_name, reason))

    def failed(self, p: Pending) -> bool:
        return any(line == p.line for line, _, _ in self.errors)


class RowRefused(Exception):
    """The database refused the row on `line` (a constraint the row models do not know)."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line


def _aliases(**groups: tuple[str, ...]) -> dict[str, str]:
    return {alias: name for name, names in groups.items() for alias in (name, *names)}


_COMPANY_REF = {"company_domain": ("company_website", "company_url", "website", "domain", "web_site", "url"),
                "company_name": ("company", "organization", "organisation", "account", "account_name")}


def _dedupe(ctx: Ctx, pending: list[Pending], what: str) -> None:
    """The same natural key twice in one file is ambiguous: report the later line, write neither."""
    seen: dict[Any, int] = {}
    for p in pending:
        k = p.key
        if k is None:
            continue
        if k in seen:
            ctx.error(p, None, f"duplicate {what}: line {seen[k]} has the same one; keep one row per {what}")
        else:
            seen[k] = p.line


class Entity:
    name: str
    row: type[Row]
    aliases: dict[str, str]
    required: list[tuple[str, ...]]

    # a service's field -> the import field its errors are reported under
    field_of: dict[str, str] = {"stage_id": "stage", "pipeline_id": "pipeline", "contact_id": "contact_email",
                                "company_id": "company_domain"}

    def resolve(self, ctx: Ctx, pending: list[Pending]) -> None: ...
    def save(self, ctx: Ctx, p: Pending) -> None: ...

    def write(self, ctx: Ctx, pending: list[Pending]) -> tuple[int, int]:
        """Write every row resolved without error through its service; a rule the service refuses is that
        row's error (the caller then rolls everything back), so the report lists every bad row at once."""
        created = updated = 0
        for p in pending:
            if ctx.failed(p):
                continue
            existed = p.existing is not None
            try:
                self.save(ctx, p)
            except (DomainError, ValidationError) as exc:
                for name, reason in _reasons(exc):
                    ctx.error(p, self.field_of.get(name, name), reason)
                continue
            except DBAPIError as exc:
                diag = getattr(exc.orig, "diag", None)
                reason = getattr(diag, "message_primary", None) or type(exc.orig).__name__
                raise RowRefused(p.line, f"the database refused this row: {reason}") from exc
            updated += existed
            created += not existed
        return created, updated


def _reasons(exc: DomainError | ValidationError) -> list[tuple[str | None, str]]:
    if isinstance(exc, DomainError):
        return [(exc.field, str(exc))]
    return [(str(e["loc"][0]) if e.get("loc") else None, e["msg"].removeprefix("Value error, ")) for e in exc.errors()]


class Companies(Entity):
    name, row = "companies", CompanyRow
    aliases = _aliases(name=("company", "company_name", "account", "account_name", "organization", "organisation"),
                       domain=("website", "web_site", "url", "company_domain", "company_website", "homepage"),
                       industry=("sector", "vertical"), size=("employees", "company_size", "headcount",
                                                              "number_of_employees"),
                       lifecycle=("status", "lifecycle_stage", "company_status", "type"),
                       customer_since=("customer_date", "became_customer", "client_since"))
    required = [("name",)]

    def resolve(self, ctx, pending):
        for p in pending:
            p.key = p.data.get("domain") or ("name", p.data["name"].lower())
        _dedupe(ctx, pending, "company (domain, or name when no domain)")
        domains = lookup.by_lower(ctx.session, Company, "domain", [p.data["domain"] for p in pending
                                                                  if p.data.get("domain")])
        names = lookup.by_lower(ctx.session, Company, "name", [p.data["name"] for p in pending
                                                              if not p.data.get("domain")])
        for p in pending:
            if p.data.get("domain"):   # natural key: the domain; without one, the name
                p.existing = (domains.get(p.data["domain"]) or [None])[0]
            else:
                found = names.get(p.data["name"].lower(), [])
                if len(found) > 1:
                    ctx.error(p, "name", f"{len(found)} companies are named {p.data['name']!r}; add a domain column")
                p.existing = found[0] if found else None
            p.values = dict(p.data)

    def save(self, ctx, p):
        if p.existing is None:
            p.existing = companies.create(ctx.session, CompanyCreate.model_validate(p.values))
        else:
            companies.update(ctx.session, p.existing, CompanyUpdate.model_validate(p.values))


class Contacts(Entity):
    name, row = "contacts", ContactRow
    aliases = _aliases(email=("e_mail", "email_address", "mail", "work_email", "contact_email"),
                       first_name=("firstname", "first", "given_name", "forename"),
                       last_name=("lastname", "last", "surname", "family_name"),
                       full_name=("name", "contact_name", "contact"),
                       phone=("phone_number", "mobile", "telephone", "tel", "cell"),
                       title=("job_title", "position", "role", "job"),
                       lead_source=("source", "lead_origin", "original_source", "channel"),
                       lifecycle_stage=("stage", "lifecycle", "status", "lead_status"), **_COMPANY_REF)
    required = [("email",)]

    def resolve(self, ctx, pending):
        for p in pending:
            p.key = p.data["email"].lower()
        _dedupe(ctx, pending, "email")
        refs = lookup.Refs(ctx.session)
        refs.load([p.data for p in pending])
        existing = lookup.by_lower(ctx.session, Contact, "email", [p.data["email"] for p in pending])
        for p in pending:
            p.existing = (existing.get(p.data["email"].lower()) or [None])[0]
            skip = {"company_domain", "company_name", "full_name"} | ({"email"} if p.existing is not None else set())
            values = {k: v for k, v in p.data.items() if k not in skip}   # the stored email (the key) stays as is
            full = p.data.get("full_name")
            if full and "first_name" not in values and "last_name" not in values:
                first, _, last = full.rpartition(" ")
                values["first_name"], values["last_name"] = (first, last) if first else (last, "")
            company, column, reason = refs.company(p.data)
            if reason:
                ctx.error(p, column, reason)
            elif company is not None:
                values["company_id"] = company.id
            p.values = values

    def save(self, ctx, p):
        if p.existing is None:
            p.existing = contacts.create(ctx.session, ContactCreate.model_validate(p.values))
        else:
            contacts.update(ctx.session, p.existing, ContactUpdate.model_validate(p.values))


class Deals(Entity):
    name, row = "deals", DealRow
    aliases = _aliases(name=("deal", "deal_name", "opportunity", "opportunity_name", "title"),
                       amount=("value", "deal_value", "deal_amount", "revenue"),
                       currency=("currency_code",), pipeline=("pipeline_name",),
                       stage=("deal_stage", "stage_name", "status"),
                       expected_close_date=("close_date", "expected_close", "closing_date"),
                       lost_reason=("loss_reason", "reason_lost"),
                       contact_email=("email", "contact", "e_mail"), **_COMPANY_REF)
    required = [("name",)]

    def resolve(self, ctx, pending):
        refs = lookup.Refs(ctx.session)
        refs.load([p.data for p in pending])
        named_pipelines, stages = lookup.pipelines(ctx.session)
        by_name = lookup.by_lower(ctx.session, Deal, "name", [p.data["name"] for p in pending])
        for p in pending:
            values = {k: p.data[k] for k in ("name", "amount", "currency", "expected_close_date", "lost_reason")
                      if k in p.data}
            company, column, reason = refs.company(p.data)
            if reason:
                ctx.error(p, column, reason)
            contact, reason = refs.contact(p.data)
            if reason:
                ctx.error(p, "contact_email", reason)
            company_id = company.id if company else None
            if company is not None:
                values["company_id"] = company.id
            if contact is not None:
                values["contact_id"] = contact.id
            same = [d for d in by_name.get(p.data["name"].lower(), []) if d.company_id == company_id]
            if len(same) > 1:
                ctx.error(p, "name", f"{len(same)} deals named {p.data['name']!r} exist for this company")
            p.existing = same[0] if same else None
            p.key = (p.data["name"].lower(), company_id)
            self._place(ctx, p, values, named_pipelines, stages)
            p.values = values
        _dedupe(ctx, pending, "deal (name and company)")

    @staticmethod
    def _place(ctx, p, values, named_pipelines, stages):
        """The pipeline and stage the file names, by name; the stage is looked up in the pipeline named,
        else the deal's own, else the default one. The deal service places the deal and sets its status."""
        current = p.existing.pipeline_id if p.existing is not None else None
        if p.data.get("pipeline"):
            pipeline = next((x for x in named_pipelines if x.name.lower() == p.data["pipeline"].lower()), None)
            if pipeline is None:
                return ctx.error(p, "pipeline", f"no pipeline named {p.data['pipeline']!r} in this tenant")
            p.pipeline_id = pipeline.id
        if p.data.get("stage"):
            pipeline_id = p.pipeline_id or current or pipelines.default_id(ctx.session)
            named = next((s for s in stages.get(pipeline_id, []) if s.name.lower() == p.data["stage"].lower()), None)
            if named is None:
                names = ", ".join(s.name for s in stages.get(pipeline_id, []))
                return ctx.error(p, "stage", f"no stage named {p.data['stage']!r} in this pipeline ({names})")
            values["stage_id"] = named.id
        return None

    def save(self, ctx, p):
        values = dict(p.values)
        if p.existing is not None:
            deals.update(ctx.session, p.existing, DealUpdate.model_validate(values), pipeline_id=p.pipeline_id)
            return
        lost_reason = values.pop("lost_reason", None)
        p.existing = deals.create(ctx.session, DealCreate.model_validate({**values, "pipeline_id": p.pipeline_id}))
        if lost_reason is not None:   # not part of a new deal's input (DealCreate): set as the change it is
            deals.update(ctx.session, p.existing, DealUpdate(lost_reason=lost_reason))


class Activities(Entity):
    name, row = "activities", ActivityRow
    aliases = _aliases(type=("activity_type", "event", "event_type", "kind"),
                       occurred_at=("date", "timestamp", "time", "occurred", "datetime", "when", "activity_date"),
                       subject=("title", "summary"), body=("description", "notes", "details", "content", "text"),
                       contact_email=("email", "e_mail", "contact"),
                       external_id=("event_id", "source_id", "activity_id", "external_key", "order_id",
                                    "order_number"),
                       properties=("properties_json", "metadata", "data"),
                       amount=("value", "revenue", "total", "order_value", "order_total", "order_amount", "spend"),
                       currency=("currency_code", "order_currency"), **_COMPANY_REF)
    required = [("type",), ("occurred_at",)]

    def resolve(self, ctx, pending):
        for p in pending:
            p.key = p.data.get("external_id")
        _dedupe(ctx, pending, "external_id")
        refs = lookup.Refs(ctx.session)
        refs.load([p.data for p in pending])
        existing = self._existing(ctx, [p.data["external_id"] for p in pending if p.data.get("external_id")])
        for p in pending:
            values = {k: p.data[k] for k in ("type", "occurred_at", "subject", "body", "external_id", "properties",
                                             "amount", "currency") if k in p.data}
            values["source"] = IMPORT_SOURCE
            contact, reason = refs.contact(p.data)
            if reason:
                ctx.error(p, "contact_email", reason)
            company, column, reason = refs.company(p.data)
            if reason:
                ctx.error(p, column, reason)
            if contact is not None:
                values["contact_id"] = contact.id
            if company is not None:
                values["company_id"] = company.id
            p.existing = existing.get(p.data.get("external_id"))
            p.values = values

    @staticmethod
    def _existing(ctx, external_ids: list[str]) -> dict[str, Activity]:
        found = {}
        for chunk in lookup.chunks(external_ids):
            found.update({a.external_id: a for a in ctx.session.scalars(
                select(Activity).where(Activity.source == IMPORT_SOURCE, Activity.external_id.in_(chunk)))})
        return found

    def save(self, ctx, p):
        if p.existing is None:
            activities.record_event(ctx.session, {"properties": {}, **p.values})
            return
        values = {k: v for k, v in p.values.items() if k not in ("source", "external_id")}
        company_id = activities.company_of_event(ctx.session, values.get("contact_id"), values.get("company_id"))
        if company_id is not None:
            values["company_id"] = company_id
        activities.update(ctx.session, p.existing, ActivityUpdate.model_validate(values))


ENTITIES: dict[str, Entity] = {e.name: e for e in (Companies(), Contacts(), Deals(), Activities())}

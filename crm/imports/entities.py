"""The four importable entities: their header aliases, row model, natural key, resolution and upsert."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db.models import Activity, Company, Contact, Deal, DealStageHistory
from crm.imports import lookup
from crm.imports.rows import ActivityRow, CompanyRow, ContactRow, DealRow, Row

IMPORT_SOURCE = "csv_import"   # activities.source of imported rows; external_id is unique per source


@dataclass
class Pending:
    """One valid row on its way in: `data` holds only the cells the file filled."""

    line: int
    data: dict[str, Any]
    existing: Any = None
    key: Any = None       # natural key; two rows with the same key in one file are an error
    values: dict[str, Any] = field(default_factory=dict)   # columns to write after resolution


@dataclass
class Ctx:
    session: Session
    tenant_id: uuid.UUID
    errors: list[tuple[int, str | None, str]] = field(default_factory=list)   # (line, field, reason)

    def error(self, p: Pending, field_name: str | None, reason: str) -> None:
        self.errors.append((p.line, field_name, reason))


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

    def resolve(self, ctx: Ctx, pending: list[Pending]) -> None: ...
    def write(self, ctx: Ctx, pending: list[Pending], flush) -> tuple[int, int]: ...

    @staticmethod
    def upsert(ctx: Ctx, model: type, pending: list[Pending], flush, after=None) -> tuple[int, int]:
        created = updated = 0
        for p in pending:
            old = None
            if p.existing is None:   # ids made here, so rows can be flushed in batches and referred to at once
                p.existing = model(id=uuid.uuid4(), tenant_id=ctx.tenant_id, **p.values)
                ctx.session.add(p.existing)
                created += 1
            else:
                old = {k: getattr(p.existing, k) for k in p.values}
                for k, v in p.values.items():
                    setattr(p.existing, k, v)
                updated += 1
            flush(p)
            if after:
                after(ctx, p, old)
        return created, updated


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
            lifecycle = p.values.get("lifecycle")
            if lifecycle == "churned" and (p.existing is None or p.existing.churned_at is None):
                p.values["churned_at"] = func.now()   # the churn label in the data platform reads it
            elif lifecycle in ("prospect", "customer"):
                p.values["churned_at"] = None

    def write(self, ctx, pending, flush):
        return self.upsert(ctx, Company, pending, flush)


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

    def write(self, ctx, pending, flush):
        return self.upsert(ctx, Contact, pending, flush)


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
        pipelines, stages = lookup.pipelines(ctx.session)
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
            self._place(ctx, p, values, pipelines, stages)
            p.values = values
        _dedupe(ctx, pending, "deal (name and company)")

    @staticmethod
    def _place(ctx, p, values, pipelines, stages):
        """Pipeline by name (else the deal's own, else the default), stage by name (else the first)."""
        current = p.existing.pipeline_id if p.existing is not None else None
        if p.data.get("pipeline"):
            pipeline = next((x for x in pipelines if x.name.lower() == p.data["pipeline"].lower()), None)
            if pipeline is None:
                return ctx.error(p, "pipeline", f"no pipeline named {p.data['pipeline']!r} in this tenant")
            pipeline_id = pipeline.id
        elif current is not None:
            pipeline_id = current
        elif pipelines:
            pipeline_id = pipelines[0].id
        else:
            return ctx.error(p, None, "this tenant has no pipeline yet: create one before importing deals")
        if p.data.get("stage"):
            stage = next((s for s in stages[pipeline_id] if s.name.lower() == p.data["stage"].lower()), None)
            if stage is None:
                names = ", ".join(s.name for s in stages[pipeline_id])
                return ctx.error(p, "stage", f"no stage named {p.data['stage']!r} in this pipeline ({names})")
        elif pipeline_id != current and stages[pipeline_id]:
            stage = stages[pipeline_id][0]
        elif pipeline_id != current:
            return ctx.error(p, "pipeline", "this pipeline has no stages")
        else:
            return None   # an existing deal keeps its stage
        values["pipeline_id"] = pipeline_id
        if p.existing is None or stage.id != p.existing.stage_id:
            values["stage_id"] = stage.id
            # the deal's status follows its stage, as in the API; an explicit lost_reason still wins
            closed = stage.is_won or stage.is_lost
            status = {"status": "won" if stage.is_won else "lost" if stage.is_lost else "open",
                      "closed_at": func.now() if closed else None}
            if not closed:
                status["lost_reason"] = None
            values.update({**status, **{k: v for k, v in values.items() if k == "lost_reason"}})
        return None

    def write(self, ctx, pending, flush):
        moves = []

        def history(ctx, p, old):
            if "stage_id" in p.values:
                moves.append(DealStageHistory(tenant_id=ctx.tenant_id, deal_id=p.existing.id,
                                              from_stage_id=old["stage_id"] if old else None,
                                              to_stage_id=p.values["stage_id"]))
        counts = self.upsert(ctx, Deal, pending, flush, after=history)
        flush.finish()   # the deals are written before the history rows that point at them
        ctx.session.add_all(moves)
        return counts


class Activities(Entity):
    name, row = "activities", ActivityRow
    aliases = _aliases(type=("activity_type", "event", "event_type", "kind"),
                       occurred_at=("date", "timestamp", "time", "occurred", "datetime", "when", "activity_date"),
                       subject=("title", "summary"), body=("description", "notes", "details", "content", "text"),
                       contact_email=("email", "e_mail", "contact"),
                       external_id=("event_id", "source_id", "activity_id", "external_key"),
                       properties=("properties_json", "metadata", "data"), **_COMPANY_REF)
    required = [("type",), ("occurred_at",)]

    def resolve(self, ctx, pending):
        for p in pending:
            p.key = p.data.get("external_id")
        _dedupe(ctx, pending, "external_id")
        refs = lookup.Refs(ctx.session)
        refs.load([p.data for p in pending])
        existing = self._existing(ctx, [p.data["external_id"] for p in pending if p.data.get("external_id")])
        for p in pending:
            values = {k: p.data[k] for k in ("type", "occurred_at", "subject", "body", "external_id", "properties")
                      if k in p.data}
            values["source"] = IMPORT_SOURCE
            contact, reason = refs.contact(p.data)
            if reason:
                ctx.error(p, "contact_email", reason)
            company, column, reason = refs.company(p.data)
            if reason:
                ctx.error(p, column, reason)
            if contact is not None:
                values["contact_id"] = contact.id
            if company is not None or (contact is not None and contact.company_id):
                values["company_id"] = company.id if company is not None else contact.company_id
            p.existing = existing.get(p.data.get("external_id"))
            p.values = values

    @staticmethod
    def _existing(ctx, external_ids: list[str]) -> dict[str, Activity]:
        found = {}
        for chunk in lookup.chunks(external_ids):
            found.update({a.external_id: a for a in ctx.session.scalars(
                select(Activity).where(Activity.source == IMPORT_SOURCE, Activity.external_id.in_(chunk)))})
        return found

    def write(self, ctx, pending, flush):
        return self.upsert(ctx, Activity, pending, flush)


ENTITIES: dict[str, Entity] = {e.name: e for e in (Companies(), Contacts(), Deals(), Activities())}

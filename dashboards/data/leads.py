"""Leads and accounts ranked by their published scores, with filters, search and offset paging."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from dashboards.data.common import top_reasons
from dashboards.data.score_models import model_label, models_in

PAGE_SIZE = 25
TIERS = ("A", "B", "C", "D")
LIFECYCLE_STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "other")


@dataclass
class Page:
    rows: list[dict]
    total: int
    page: int
    pages: int
    scored: int
    models: list[dict] = field(default_factory=list)  # the models behind this page's scores (score_models.models_in)


def _with_models(session: Session, entity_type: str, rows: list[dict]) -> list[dict]:
    """Each row with its model in words (`model`), and the page's models once for the line above the table."""
    for row in rows:
        row["model"] = model_label(row["model_kind"], row["model_version"]) if row["score"] is not None else None
    return models_in(session, entity_type, rows)


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def leads(session: Session, *, q: str = "", tier: str = "", stage: str = "", page: int = 1) -> Page:
    where, params = ["true"], {}
    if q:
        where.append("concat_ws(' ', c.first_name, c.last_name, c.email, c.title, co.name) ilike :q escape '\\'")
        params["q"] = _like(q)
    if tier in TIERS:
        where.append("s.tier = :tier")
        params["tier"] = tier
    elif tier == "unscored":
        where.append("s.entity_id is null")
    if stage in LIFECYCLE_STAGES:
        where.append("c.lifecycle_stage = :stage")
        params["stage"] = stage
    base = ("from contacts c left join companies co on co.id = c.company_id "
            "left join scores s on s.entity_type = 'lead' and s.entity_id = c.id where " + " and ".join(where))
    total, scored = session.execute(text(f"select count(*), count(s.entity_id) {base}"), params).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(text(
        "select c.id, c.first_name, c.last_name, c.email, c.title, c.lifecycle_stage, c.created_at, "
        "c.company_id, co.name as company, s.score, s.tier, s.factors, s.model_kind, s.model_version, "
        "(select max(a.occurred_at) from activities a where a.contact_id = c.id) as last_activity "
        f"{base} order by s.score desc nulls last, c.created_at desc, c.id limit :lim offset :off"),
        {**params, "lim": PAGE_SIZE, "off": (page - 1) * PAGE_SIZE})
    out = [{**r._mapping, "reasons": top_reasons(r.factors, 2)} for r in rows]
    return Page(out, total, page, pages, scored, _with_models(session, "lead", out))


def accounts(session: Session, *, q: str = "", risk: str = "", page: int = 1) -> Page:
    """Customer companies, highest churn risk first."""
    where, params = ["co.lifecycle = 'customer'"], {}
    if q:
        where.append("concat_ws(' ', co.name, co.domain, co.industry) ilike :q escape '\\'")
        params["q"] = _like(q)
    if risk == "high":
        where.append("s.probability >= 0.5")
    elif risk == "low":
        where.append("s.probability < 0.5")
    elif risk == "unscored":
        where.append("s.entity_id is null")
    base = ("from companies co left join scores s on s.entity_type = 'account' and s.entity_id = co.id "
            "left join analytics.features_latest f on f.entity_type = 'account' and f.entity_id = co.id "
            "where " + " and ".join(where))
    total, scored = session.execute(text(f"select count(*), count(s.entity_id) {base}"), params).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(text(
        "select co.id, co.name, co.domain, co.industry, co.size, co.customer_since, s.score, s.probability, "
        "s.tier, s.factors, s.model_kind, s.model_version, "
        "case when jsonb_typeof(f.features->'is_lapsed') = 'number' then (f.features->>'is_lapsed')::numeric = 1 "
        "else false end as is_lapsed, "
        "(select count(*) from contacts c where c.company_id = co.id) as contacts, "
        "(select coalesce(sum(d.amount), 0) from deals d where d.company_id = co.id and d.status = 'won') as revenue, "
        "(select max(a.occurred_at) from activities a where a.company_id = co.id) as last_activity "
        f"{base} order by s.probability desc nulls last, co.name, co.id limit :lim offset :off"),
        {**params, "lim": PAGE_SIZE, "off": (page - 1) * PAGE_SIZE})
    out = [{**r._mapping, "reasons": top_reasons(r.factors, 2)} for r in rows]
    return Page(out, total, page, pages, scored, _with_models(session, "account", out))

"""Rows for retrieval tests, written straight into PostgreSQL under the tenant's RLS (fast, no HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from crm.db.engine import tenant_session


class TenantData:
    """Creates companies, contacts, notes and activities for one tenant; returns their ids."""

    def __init__(self, tenant_id: str):
        self.tenant_id = str(tenant_id)
        self._day = 0

    def _insert(self, sql: str, **params) -> str:
        with tenant_session(self.tenant_id) as s:
            return str(s.execute(text(sql), {"t": self.tenant_id, **params}).scalar_one())

    def _when(self, when: datetime | None) -> datetime:
        self._day += 1
        return when or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=self._day)

    def company(self, name: str, **kw) -> str:
        return self._insert("insert into companies (tenant_id, name, lifecycle) values (:t, :n, :l) returning id",
                            n=name, l=kw.get("lifecycle", "customer"))

    def contact(self, email: str, company_id: str | None = None, first_name: str = "Sam",
                last_name: str = "Lee") -> str:
        return self._insert("insert into contacts (tenant_id, email, company_id, first_name, last_name) "
                            "values (:t, :e, :c, :f, :l) returning id",
                            e=email, c=company_id, f=first_name, l=last_name)

    def note(self, body: str, contact_id: str | None = None, company_id: str | None = None,
             when: datetime | None = None) -> str:
        return self._insert("insert into notes (tenant_id, body, contact_id, company_id, occurred_at) "
                            "values (:t, :b, :ct, :co, :w) returning id",
                            b=body, ct=contact_id, co=company_id, w=self._when(when))

    def activity(self, type_: str, body: str, subject: str | None = None, contact_id: str | None = None,
                 company_id: str | None = None, when: datetime | None = None) -> str:
        return self._insert("insert into activities (tenant_id, type, subject, body, contact_id, company_id, "
                            "occurred_at) values (:t, :ty, :s, :b, :ct, :co, :w) returning id",
                            ty=type_, s=subject, b=body, ct=contact_id, co=company_id, w=self._when(when))

    def deal(self, name: str, amount: float, company_id: str | None = None, contact_id: str | None = None,
             stage: str = "Proposal") -> str:
        if not hasattr(self, "_stage"):
            self._pipeline = self._insert("insert into pipelines (tenant_id, name) values (:t, 'Sales') returning id")
            self._stage = self._insert("insert into pipeline_stages (tenant_id, pipeline_id, name, position, "
                                       "win_probability) values (:t, :p, :n, 1, 0.4) returning id",
                                       p=self._pipeline, n=stage)
        return self._insert("insert into deals (tenant_id, name, amount, company_id, contact_id, pipeline_id, "
                            "stage_id) values (:t, :n, :a, :co, :ct, :p, :s) returning id",
                            n=name, a=amount, co=company_id, ct=contact_id, p=self._pipeline, s=self._stage)

    def score(self, entity_type: str, entity_id: str, score: int, factors: list[dict] | None = None) -> None:
        import json

        self.execute("insert into scores (tenant_id, entity_type, entity_id, score, probability, tier, factors, "
                     "model_name, model_version) values (:t, :e, :id, :s, :p, 'B', cast(:f as jsonb), :m, '1')",
                     t=self.tenant_id, e=entity_type, id=entity_id, s=score, p=score / 100,
                     f=json.dumps(factors or []), m="lead_score" if entity_type == "lead" else "churn_risk")

    def execute(self, sql: str, **params) -> None:
        with tenant_session(self.tenant_id) as s:
            s.execute(text(sql), params)

    def new_id(self) -> str:
        return str(uuid.uuid4())


_CITED_TABLES = {"note": "notes", "activity": "activities", "deal": "deals"}


def source_text(tenant_id: str, source_type: str, source_id: str) -> str | None:
    """The text of a cited note/activity as the asking tenant sees it (None if RLS hides it or it is gone)."""
    sql = {"note": "select body from notes where id = :id",
           "activity": "select concat_ws(E'\\n', subject, body) from activities where id = :id"}[source_type]
    with tenant_session(tenant_id) as s:
        return s.execute(text(sql), {"id": source_id}).scalar()


def citation_in_tenant(tenant_id: str, citation: dict) -> bool:
    """Does the cited record exist for this tenant, checked in PostgreSQL under its row-level security?"""
    kind, id_ = citation["source_type"], citation["source_id"]
    if kind in _CITED_TABLES:
        sql = f"select count(*) from {_CITED_TABLES[kind]} where id = :id"
    elif kind == "score":
        sql = "select count(*) from scores where entity_id = :id"
    elif kind == "sentiment":
        sql = "select (select count(*) from contacts where id = :id) + (select count(*) from companies where id = :id)"
    else:
        return False
    with tenant_session(tenant_id) as s:
        return s.execute(text(sql), {"id": id_}).scalar() == 1

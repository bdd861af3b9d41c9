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

    def execute(self, sql: str, **params) -> None:
        with tenant_session(self.tenant_id) as s:
            s.execute(text(sql), params)

    def new_id(self) -> str:
        return str(uuid.uuid4())

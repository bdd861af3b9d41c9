"""Domain errors: what a write refused and why, worded for people. The API maps them to problem+json
(404/422/409), the dashboard to form messages, the CSV import to row errors."""

from __future__ import annotations

import re


class DomainError(Exception):
    """The base of every refusal a service raises; `str(error)` is the message for people, `code` a stable
    name for the kind of refusal (the API's problem type is `/problems/<code>`)."""

    code = "error"
    field: str | None = None   # the input field at fault, when there is one


class NotFound(DomainError):
    """The record does not exist in this tenant (another tenant's record looks exactly the same)."""

    code = "not-found"

    def __init__(self, kind: str, id_: object):
        super().__init__(f"{kind} {id_} not found")
        self.kind, self.id = kind, id_


class Invalid(DomainError):
    """The input breaks a rule; `field` names the input field at fault (None: the input as a whole)."""

    def __init__(self, field: str | None, message: str, code: str = "validation"):
        super().__init__(message)
        self.field, self.code = field, code


class InvalidReference(Invalid):
    """A reference (company_id, contact_id, ...) names no record of this tenant. The message never repeats
    the id, so a probe with another tenant's ids learns nothing."""

    def __init__(self, field: str):
        super().__init__(field, f"{field}: the referenced record does not exist", code="invalid-reference")


class Conflict(DomainError):
    """The write contradicts data already stored (not a retryable race)."""

    code = "conflict"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class InUse(Conflict):
    """Other records still refer to this one, so it cannot be deleted."""

    code = "in-use"


def from_integrity_error(exc: Exception) -> DomainError:
    """A constraint the database enforced (a concurrent write got there first, or a rule only the schema
    states) as the domain error it means. Fields are named from the constraint, never from key values,
    which PostgreSQL hides under RLS anyway: `contacts_tenant_id_company_id_fkey` -> company_id."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    field = _constraint_field(diag)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "23503":
        if (getattr(diag, "message_primary", "") or "").startswith("update or delete"):
            return InUse(f"other records still refer to this one ({field})", field)
        return InvalidReference(field)
    if sqlstate == "23505":
        return Conflict(f"a record with this {field} already exists", field)
    if sqlstate == "23514":
        return Invalid(field, f"a value is outside its allowed range or set ({field})", code="check-violation")
    if sqlstate == "23502":
        column = (getattr(diag, "column_name", None) or "a required value") if diag else "a required value"
        return Invalid(column, f"{column} is required", code="missing-value")
    return Conflict("the request conflicts with existing data")


def _constraint_field(diag) -> str:
    name = (getattr(diag, "constraint_name", None) or "") if diag else ""
    table = (getattr(diag, "table_name", None) or "") if diag else ""
    name = re.sub(r"_(fkey|key|pkey|check)$", "", name.removeprefix(f"{table}_")).replace("tenant_id_", "")
    return name or "value"

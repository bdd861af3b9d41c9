"""Running one import: parse, validate, resolve, then write everything or nothing."""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from crm.db.engine import tenant_session
from crm.db.models import Tenant
from crm.imports.csvfile import CsvFileError, parse
from crm.imports.entities import ENTITIES, Ctx, Pending
from crm.imports.report import ImportReport, RowError

ENTITY_NAMES = tuple(ENTITIES)
MAX_REPORTED_ERRORS = 500


class ImportRequestError(ValueError):
    """The request itself is wrong (unknown entity or tenant), not the file."""


class _Abort(Exception):
    """Raised inside the tenant transaction so that it rolls back."""


def _validation_errors(exc: ValidationError, line: int, header_of) -> list[RowError]:
    out = []
    for err in exc.errors():
        field_name = str(err["loc"][0]) if err.get("loc") else None
        msg = err["msg"].removeprefix("Value error, ")
        out.append(RowError(line, header_of(field_name) if field_name else None, msg))
    return out


def import_csv(tenant_id: uuid.UUID | str, entity: str, data: bytes,
               mapping: dict[str, str] | None = None) -> ImportReport:
    spec = ENTITIES.get(entity)
    if spec is None:
        raise ImportRequestError(f"cannot import {entity!r}: choose one of {', '.join(ENTITY_NAMES)}")
    try:
        tid = uuid.UUID(str(tenant_id))
    except ValueError as exc:
        raise ImportRequestError(f"{tenant_id!r} is not a tenant id (a UUID)") from exc
    report = ImportReport(entity=entity)
    try:
        parsed = parse(data, spec.aliases, mapping, set(spec.row.model_fields), spec.required)
    except CsvFileError as exc:
        report.errors = exc.errors
        return report
    report.columns, report.ignored_columns = parsed.columns, parsed.ignored
    report.rows = len(parsed.rows) + len(parsed.errors)
    errors = list(parsed.errors)
    pending = []
    for line, cells in parsed.rows:
        filled = {k: v for k, v in cells.items() if v.strip()}   # a blank cell never overwrites a stored value
        try:
            pending.append(Pending(line, spec.row.model_validate(filled).model_dump(exclude_unset=True)))
        except ValidationError as exc:
            errors += _validation_errors(exc, line, parsed.header_of)
    try:
        with tenant_session(tid) as session:
            if not session.scalar(select(func.count()).select_from(Tenant)):
                raise ImportRequestError(f"no tenant with id {tid}")
            ctx = Ctx(session, tid)
            spec.resolve(ctx, pending)
            errors += [RowError(line, parsed.header_of(f) if f else None, reason) for line, f, reason in ctx.errors]
            if errors:
                raise _Abort
            report.created, report.updated = spec.write(ctx, pending, _flusher(session, parsed))
    except _Abort:
        report.created = report.updated = 0
    except _RowRefused as exc:
        report.created = report.updated = 0
        errors.append(exc.error)
    errors.sort(key=lambda e: (e.row or 0, e.column or ""))
    report.errors = errors[:MAX_REPORTED_ERRORS]
    if len(errors) > MAX_REPORTED_ERRORS:
        report.errors.append(RowError(None, None, f"... and {len(errors) - MAX_REPORTED_ERRORS} more errors"))
    return report


class _RowRefused(Exception):
    def __init__(self, error: RowError):
        super().__init__(error.reason)
        self.error = error


def _flusher(session, parsed):
    """Flush row by row so that a constraint the database enforces is reported against its line."""
    def flush(p: Pending) -> None:
        try:
            session.flush()
        except DBAPIError as exc:
            diag = getattr(exc.orig, "diag", None)
            reason = getattr(diag, "message_primary", None) or type(exc.orig).__name__
            raise _RowRefused(RowError(p.line, None, f"the database refused this row: {reason}")) from exc
    return flush

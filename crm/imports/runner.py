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


_BATCH = 500   # rows per flush: one round trip per batch instead of one per row


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
    validated = [(p.line, p.data) for p in pending]
    try:
        try:
            report.created, report.updated = _run(tid, spec, validated, parsed, errors, batch=_BATCH)
        except _BatchRefused:   # rare: the database refused a valid-looking row; find it, row by row
            report.created, report.updated = _run(tid, spec, validated, parsed, errors, batch=1)
    except _Abort as exc:
        errors = exc.errors
    except _RowRefused as exc:
        errors.append(exc.error)
    errors.sort(key=lambda e: (e.row or 0, e.column or ""))
    report.errors = errors[:MAX_REPORTED_ERRORS]
    if len(errors) > MAX_REPORTED_ERRORS:
        report.errors.append(RowError(None, None, f"... and {len(errors) - MAX_REPORTED_ERRORS} more errors"))
    return report


def _run(tid: uuid.UUID, spec, validated: list[tuple[int, dict]], parsed, errors: list[RowError],
         batch: int) -> tuple[int, int]:
    """One attempt in one tenant transaction: resolve every row, then write all of them or none."""
    pending = [Pending(line, dict(data)) for line, data in validated]
    with tenant_session(tid) as session:
        if not session.scalar(select(func.count()).select_from(Tenant)):
            raise ImportRequestError(f"no tenant with id {tid}")
        ctx = Ctx(session, tid)
        spec.resolve(ctx, pending)
        found = errors + [RowError(line, parsed.header_of(f) if f else None, reason) for line, f, reason in ctx.errors]
        if found:
            raise _Abort(found)   # raised inside the transaction, so it rolls back
        flush = _Flusher(session, batch)
        counts = spec.write(ctx, pending, flush)
        flush.finish()
        return counts


class _Abort(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


class _RowRefused(Exception):
    def __init__(self, error: RowError):
        super().__init__(error.reason)
        self.error = error


class _BatchRefused(Exception):
    """A batch flush failed: the import is retried row by row to report the line."""


class _Flusher:
    """Writes rows in batches; with batch=1 a constraint the database enforces is reported against its line."""

    def __init__(self, session, batch: int):
        self.session, self.batch, self.rows = session, batch, []

    def __call__(self, p: Pending) -> None:
        self.rows.append(p)
        if len(self.rows) >= self.batch:
            self.finish()

    def finish(self) -> None:
        try:
            self.session.flush()
        except DBAPIError as exc:
            if len(self.rows) > 1:
                raise _BatchRefused from exc
            diag = getattr(exc.orig, "diag", None)
            reason = getattr(diag, "message_primary", None) or type(exc.orig).__name__
            line = self.rows[0].line if self.rows else None
            raise _RowRefused(RowError(line, None, f"the database refused this row: {reason}")) from exc
        self.rows.clear()

"""Running one import: parse, validate, resolve, then write everything or nothing."""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from sqlalchemy import func, select

from crm.db.engine import tenant_session
from crm.db.models import Tenant
from crm.ids import InvalidId, parse_uuid
from crm.imports.csvfile import CsvFileError, parse
from crm.imports.entities import ENTITIES, Ctx, Pending, RowRefused
from crm.imports.report import ImportReport, RowError
from crm.services.actor import Actor, set_actor

ENTITY_NAMES = tuple(ENTITIES)
MAX_REPORTED_ERRORS = 500


class ImportRequestError(ValueError):
    """The request itself is wrong (unknown entity or tenant), not the file."""


def _validation_errors(exc: ValidationError, line: int, header_of) -> list[RowError]:
    out = []
    for err in exc.errors():
        field_name = str(err["loc"][0]) if err.get("loc") else None
        msg = err["msg"].removeprefix("Value error, ")
        out.append(RowError(line, header_of(field_name) if field_name else None, msg))
    return out


def import_csv(tenant_id: uuid.UUID | str, entity: str, data: bytes,
               mapping: dict[str, str] | None = None, actor: Actor | None = None) -> ImportReport:
    """`actor`: whom the audit log names (type `import`, the user or API key when known, the file's name);
    by default an import of an unnamed file."""
    spec = ENTITIES.get(entity)
    if spec is None:
        raise ImportRequestError(f"cannot import {entity!r}: choose one of {', '.join(ENTITY_NAMES)}")
    try:
        tid = parse_uuid(tenant_id, "tenant_id")
    except InvalidId as exc:
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
        report.created, report.updated = _run(tid, spec, validated, parsed, errors,
                                              actor or Actor("import", None, f"{entity}.csv"))
    except _Abort as exc:
        errors = exc.errors
    except RowRefused as exc:
        errors.append(RowError(exc.line, None, str(exc)))
    errors.sort(key=lambda e: (e.row or 0, e.column or ""))
    report.errors = errors[:MAX_REPORTED_ERRORS]
    if len(errors) > MAX_REPORTED_ERRORS:
        report.errors.append(RowError(None, None, f"... and {len(errors) - MAX_REPORTED_ERRORS} more errors"))
    return report


def _run(tid: uuid.UUID, spec, validated: list[tuple[int, dict]], parsed, errors: list[RowError],
         actor: Actor) -> tuple[int, int]:
    """One tenant transaction: resolve every row, write each through the domain services, and keep it all
    only if no row failed (an exception inside the transaction rolls it back)."""
    pending = [Pending(line, dict(data)) for line, data in validated]
    with tenant_session(tid) as session:
        set_actor(session, actor)
        if not session.scalar(select(func.count()).select_from(Tenant)):
            raise ImportRequestError(f"no tenant with id {tid}")
        ctx = Ctx(session, tid)
        spec.resolve(ctx, pending)
        counts = spec.write(ctx, pending)
        found = errors + [RowError(line, parsed.header_of(f) if f else None, reason) for line, f, reason in ctx.errors]
        if found:
            raise _Abort(found)
        return counts


class _Abort(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} errors")
        self.errors = errors

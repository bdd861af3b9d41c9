"""`POST /api/v1/imports/{entity}`: a CSV file in, all rows upserted or none, with a row-level report."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import WriterDep
from api.errors import ApiError
from crm.imports import ENTITY_NAMES, ImportRequestError, import_csv
from crm.services.actor import Actor

router = APIRouter(prefix="/imports", tags=["imports"])

_DESCRIPTION = f"""Import a CSV of **{', '.join(ENTITY_NAMES)}** into the caller's tenant (writer role).

Send the file as multipart form field `file` (`curl -F file=@contacts.csv`) or as the raw body
(`Content-Type: text/csv`). Headers are matched case-insensitively with common aliases
("E-mail", "Company Name", "Website" ...); `mapping` (JSON object `{{"File header": "field"}}`, as a
query parameter or a multipart field) maps the rest. Rows upsert by natural key: company domain
(else name), contact email, deal name + company, activity `external_id`.

All or nothing: if any row is bad, nothing is written and the answer is a 422 problem whose `errors`
list gives each bad row's line number (the header is line 1), column and reason. The body limit is 20 MiB."""


def _mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(422, f"mapping is not JSON: {exc.msg}", type_="/problems/validation") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ApiError(422, 'mapping must be a JSON object of strings: {"File header": "field"}',
                       type_="/problems/validation")
    return value


async def _read_upload(request: Request, mapping: str | None) -> tuple[bytes, str | None, str | None]:
    """The file's bytes, the mapping, and the file's name when the upload carries one."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return await request.body(), mapping, None
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(422, "the multipart body has no file field named 'file'", type_="/problems/validation")
    field_mapping = form.get("mapping")
    return (await upload.read(), field_mapping if isinstance(field_mapping, str) else mapping,
            (upload.filename or "")[:200] or None)


@router.post("/{entity}", summary="Import a CSV file", description=_DESCRIPTION,
             openapi_extra={"requestBody": {"content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary"}, "mapping": {"type": "string"}}}}}}})
async def import_entity(entity: str, request: Request, principal: WriterDep,
                        mapping: Annotated[str | None, Query(max_length=10_000)] = None) -> dict:
    if entity not in ENTITY_NAMES:
        raise ApiError(404, f"cannot import {entity!r}: choose one of {', '.join(ENTITY_NAMES)}",
                       type_="/problems/not-found")
    data, raw_mapping, file_name = await _read_upload(request, mapping)
    if not data:
        raise ApiError(422, "the CSV is empty: send it as multipart field 'file' or as a text/csv body",
                       type_="/problems/validation")
    try:
        # audited as an import by the caller's user or API key, labelled with the file
        actor = Actor("import", principal.api_key_id or principal.user_id, file_name or f"{entity}.csv")
        report = await run_in_threadpool(import_csv, principal.tenant_id, entity, data, _mapping(raw_mapping), actor)
    except ImportRequestError as exc:
        raise ApiError(422, str(exc), type_="/problems/validation") from exc
    if not report.ok:
        bad = len({e.row for e in report.errors})
        raise ApiError(422, f"{bad} row(s) of the file have errors; nothing was imported",
                       type_="/problems/import-rejected",
                       errors=[{"row": e.row, "column": e.column, "reason": e.reason} for e in report.errors])
    return report.to_dict()

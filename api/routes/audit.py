"""`GET /api/v1/audit`: the agency's audit log, newest first, filtered, cursor-paged.

Any signed-in role of the agency may read it (its own entries only: RLS). A record page reads its history
with `?entity_type=deal&entity_id=...`; another agency's record id matches nothing (an empty page), as the
other lists' filters do. Nothing here writes: the log is written by crm.services.changes, append-only.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, SessionDep
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.schemas.audit import AuditEntryRead, AuditPage
from crm import audit
from crm.schemas.base import Timestamp

router = APIRouter(tags=["audit"])

_DESCRIPTION = f"""Every recorded write of the agency: who (`actor_type` user, api_key, workflow_run, import,
pipeline, events or system; `actor_id`; `actor_label`), when, which record (`entity_type`, `entity_id`), the
action (create, update, delete) and the fields before and after (`changes`: `{{field: [old, new]}}`).

Newest first. Filters: `entity_type` ({', '.join(audit.ENTITY_LABELS)}), `entity_id`, `actor_type`,
`actor_id`, `action`, `since` (inclusive), `until` (exclusive). Paged by `cursor` (the previous page's
`next_cursor`) with `limit` (default {DEFAULT_LIMIT}, max {MAX_LIMIT}).

The log is append-only: the application's database role may insert and read entries, never change or
delete them."""


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["audit", entry_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        kind, entry_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if kind != "audit" or not isinstance(entry_id, int) or isinstance(entry_id, bool):
            raise ValueError(cursor)
        return entry_id
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "cursor is malformed: pass back the next_cursor of a previous page unchanged",
                       type_="/problems/bad-cursor") from exc


@router.get("/audit", response_model=AuditPage, summary="The agency's audit log", description=_DESCRIPTION)
def list_audit(session: SessionDep, _: CurrentPrincipal,
               entity_type: Annotated[str | None, Query(max_length=40)] = None,
               entity_id: uuid.UUID | None = None,
               actor_type: Literal["user", "api_key", "workflow_run", "import", "pipeline", "events",
                                   "system"] | None = None,
               actor_id: uuid.UUID | None = None,
               action: Literal["create", "update", "delete"] | None = None,
               since: Timestamp | None = None,
               until: Timestamp | None = None,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
               cursor: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    if entity_type is not None and entity_type not in audit.ENTITY_LABELS:
        raise ApiError(422, f"entity_type {entity_type!r} is not one of {', '.join(audit.ENTITY_LABELS)}",
                       type_="/problems/validation")
    if since is not None and until is not None and until <= since:
        raise ApiError(422, "until must be later than since", type_="/problems/validation")
    query = audit.AuditQuery(entity_type=entity_type, entity_id=entity_id, actor_type=actor_type,
                             actor_id=actor_id, action=action, since=since, until=until,
                             before_id=decode_cursor(cursor) if cursor else None)
    rows = audit.entries(session, query, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": [AuditEntryRead.model_validate(r) for r in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more else None}

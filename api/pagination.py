"""Keyset pagination on (created_at, id): stable under inserts, no row lost or repeated."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from api.errors import ApiError
from crm.ids import parse_uuid

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, id_ = json.loads(raw)
        return datetime.fromisoformat(created_at), parse_uuid(id_, "cursor id")
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "cursor is malformed: pass back the next_cursor of a previous page unchanged",
                       type_="/problems/bad-cursor") from exc


def page(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last.created_at, last.id)
    return rows, None

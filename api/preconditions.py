"""Entity tags and `If-Match`: a client that read a record can write it only if nobody changed it since.

The tag is derived from the row's id, its `updated_at` and its `xmin`. `updated_at` alone is too coarse:
the trigger sets it to `now()`, the *transaction's* start time, so two transactions that start in the same
microsecond and update one row in turn would leave the same value behind. `xmin` is the id of the
transaction that wrote the row's current version: every committed change has its own, and a row that is
only read or locked keeps it. No version column is needed, and if a dump/restore ever rewrites `xmin`,
tags merely change once (a spurious 412, never a false match).

`If-Match` is checked under `SELECT ... FOR UPDATE`, so no other write can slip in between the check and
the change. Without `If-Match` a write still works (the precondition is optional).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from api.errors import ApiError, not_found


def etag(session: Session, model: type, id_: uuid.UUID) -> str | None:
    """The strong entity tag of the row as this transaction sees it (None if it does not exist)."""
    row = session.execute(select(literal_column("xmin::text"), model.updated_at).where(model.id == id_)).first()
    if row is None:
        return None
    return etag_of(model.__tablename__, id_, row[0], row[1])


def etag_of(table: str, id_: uuid.UUID, xmin: str, updated_at: datetime) -> str:
    """The tag of a row version read elsewhere (a one-trip read selects `xmin::text` beside the row)."""
    digest = hashlib.sha256(f"{table}:{id_}:{xmin}:{updated_at.isoformat()}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def lock_or_404(session: Session, model: type, id_: uuid.UUID, label: str, for_delete: bool = False) -> Any:
    """Load the row FOR UPDATE: a concurrent write or delete waits for us, or we for it (then it is gone: 404).

    An update takes FOR NO KEY UPDATE, the lock its UPDATE would take anyway, so rows that merely refer to
    this one (foreign-key checks take KEY SHARE) can still be inserted meanwhile."""
    lock = True if for_delete else {"key_share": True}
    obj = session.get(model, id_, with_for_update=lock, populate_existing=True)
    if obj is None:  # RLS hides other tenants' rows, so theirs and missing ones look alike
        raise not_found(label, id_)
    return obj


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def check_if_match(request: Request | None, session: Session, model: type, id_: uuid.UUID) -> None:
    """412 unless `If-Match` is absent, `*`, or lists the row's current tag (strong comparison: W/ never matches).

    Call it after `lock_or_404`: a missing row is a 404 whatever the precondition, as the same request
    without it would be (RFC 9110 §13.2.1)."""
    header = request.headers.get("if-match") if request is not None else None
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags:
        return
    if etag(session, model, id_) not in tags:
        raise ApiError(412, "the record has changed since you read it (If-Match does not match its ETag): "
                            "GET it again, reapply your change and resend with the new ETag",
                       type_="/problems/precondition-failed")

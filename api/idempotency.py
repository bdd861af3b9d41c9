"""`Idempotency-Key` on POST: a retried create gets the first response back instead of a second row.

The key is claimed in the *same transaction* as the write (an insert into `idempotency_keys`), and the
response is stored there before commit, so the key and the write commit or roll back together:
- a new key: the write runs and its response (status, body, ETag) is stored with the key;
- a known key with the same request (method, path, query, body fingerprint): the stored response is sent
  again with `Idempotent-Replayed: true`, and nothing is written;
- a known key with another request: 422;
- two requests with one key at once: the second's insert waits on the unique index until the first
  commits, then finds the key and replays it (or, if the first rolled back, does the write itself).
A request that fails (4xx) rolls back, so its key is not used up and a corrected retry may reuse it.
Keys are scoped to the tenant and the caller (API key or user) and expire after 24 hours (pruned lazily).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.errors import ApiError
from crm.tenancy import Principal

TTL = "24 hours"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")   # printable ASCII without spaces, as clients generate (UUIDs)
_PRUNE_BATCH = 100


def _fingerprint(request: Request, body: bytes) -> str:
    try:   # the same JSON document with other spacing or key order is the same request
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    head = f"{request.method} {request.url.path}?{request.url.query}\n".encode()
    return hashlib.sha256(head + canonical).hexdigest()


def _scope(principal: Principal) -> str:
    if principal.api_key_id is not None:
        return f"api_key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


def _json_response(body: Any, status: int, headers: dict[str, str]) -> Response:
    """A schema's instance is serialised by pydantic-core in one pass (as reads are: the same bytes for the same
    record); anything else as FastAPI would."""
    if isinstance(body, BaseModel):
        return Response(type(body).__pydantic_serializer__.to_json(body), status_code=status,
                        media_type="application/json", headers=headers)
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


@dataclass
class Idempotency:
    key: str | None
    fingerprint: str

    def respond(self, session: Session, principal: Principal, status: int,
                write: Callable[[], tuple[Any, dict[str, str]]]) -> Response:
        """Run `write` (returning the body, a schema's instance or JSON-able data, and extra headers) at most once
        per key; answer as JSON."""
        if self.key is None:
            body, headers = write()
            return _json_response(body, status, headers)
        params = {"s": _scope(principal), "k": self.key}
        stored = self._claim(session, principal, params)
        if stored is not None:
            if stored.fingerprint != self.fingerprint:
                raise ApiError(422, "this Idempotency-Key was already used with a different request (method, "
                                    "path or body): use a new key for a new request",
                               type_="/problems/idempotency-key-reused")
            return Response(stored.response_body, status_code=stored.status_code, media_type="application/json",
                            headers={**stored.response_headers, REPLAYED: "true"})
        body, headers = write()
        response = _json_response(body, status, headers)
        # the body is stored as the bytes sent, so a replay is byte for byte the first response
        session.execute(text("update idempotency_keys set status_code = :st, response_body = :b, "
                             "response_headers = cast(:h as jsonb) where scope = :s and key = :k"),
                        {**params, "st": status, "b": response.body.decode(), "h": json.dumps(headers)})
        return response

    def _claim(self, session: Session, principal: Principal, params: dict) -> Any:
        """Insert the key (ours: None) or return the stored row of the request that used it first."""
        session.execute(text(f"delete from idempotency_keys where scope = :s and key = :k "
                             f"and created_at < now() - interval '{TTL}'"), params)
        # lazy pruning of other expired keys; SKIP LOCKED so concurrent requests never queue behind it
        session.execute(text(f"delete from idempotency_keys where ctid in (select ctid from idempotency_keys "
                             f"where created_at < now() - interval '{TTL}' limit {_PRUNE_BATCH} "
                             "for update skip locked)"))
        claimed = session.execute(text(
            "insert into idempotency_keys (tenant_id, scope, key, fingerprint) values (:t, :s, :k, :f) "
            "on conflict (tenant_id, scope, key) do nothing returning key"),
            {**params, "t": principal.tenant_id, "f": self.fingerprint}).first()
        if claimed is not None:
            return None
        return session.execute(text("select fingerprint, status_code, response_body, response_headers "
                                    "from idempotency_keys where scope = :s and key = :k"), params).one()


async def idempotency(request: Request, key: Annotated[str | None, Header(
        alias="Idempotency-Key", description="Any unique string (a UUID) per logical request: a retry with the "
                                             "same key and body gets the first response back; 24 h")] = None
                      ) -> Idempotency:
    if key is not None and not _KEY.match(key):
        raise ApiError(422, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
                       type_="/problems/validation")
    body = await request.body() if key is not None else b""   # Starlette caches it for the route's own parsing
    return Idempotency(key, _fingerprint(request, body) if key is not None else "")


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]

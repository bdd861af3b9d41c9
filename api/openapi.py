"""The OpenAPI document says every status and media type the API answers with.

Routes declare their success responses (FastAPI does that from `response_model` / `status_code`); the
error answers are the same for every route of a kind, so they are declared here once, from the route's
method and path, rather than repeated on ~60 decorators: `application/problem+json` (RFC 9457) for each
4xx/503 the API can give, replacing FastAPI's `HTTPValidationError` (our 422 is problem+json too).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from crm.problems import PROBLEM

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {}, "description": "validation errors or bad rows, when any"},
    },
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer"}}}

WHY = {
    400: "Malformed request: unreadable body or cursor",
    401: "Missing, unknown or revoked API key (or no signed-in session)",
    403: "The key's role may not do this (read-only writing, non-admin managing access), or CSRF token missing",
    404: "No such record in the caller's agency (another agency's id answers exactly the same)",
    409: "Conflicts with existing data (duplicate natural key, record still referred to, concurrent change)",
    412: "If-Match names a version that is no longer current",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input: unknown field, wrong type, value out of range, another agency's id in the body",
    429: "Too many requests: slow down and retry after Retry-After seconds",
    503: "Temporarily unavailable (database unreachable, overloaded); retry after Retry-After seconds",
}


def error_statuses(method: str, path: str) -> set[int]:
    """The error statuses an operation can answer, from its method and path."""
    if not path.startswith("/api/"):
        return {503} if path == "/healthz" else set()
    statuses = {401, 422, 429, 503}
    has_id = "{" in path
    writes = method in ("post", "put", "patch", "delete")
    if has_id or method == "post":
        statuses.add(404)  # the path's record, or one a POST body names (insights, email drafts)
    if writes:
        statuses |= {403, 409}
    if method in ("post", "put", "patch"):
        statuses |= {400, 413, 415}
    if method in ("patch", "delete"):
        statuses.add(412)
    if method == "get" and not has_id:
        statuses.add(400)  # malformed cursor
    return statuses


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": WHY[status],
                                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if status in (409, 429, 503):
        response["headers"] = RETRY_AFTER
    return response


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses to every operation and drop FastAPI's unused validation schemas."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(method, path)):
                responses[str(status)] = problem_response(status)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Build the document once, completed, the first time /openapi.json (or /docs) asks for it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

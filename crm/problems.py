"""RFC 9457 problem+json responses: the one renderer for the API's errors and the dashboard's refusals of
API calls (a missing CSRF token), kept here so neither of those packages imports the other."""

from __future__ import annotations

from starlette.responses import JSONResponse

PROBLEM = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error"}


def problem(status: int, detail: str, type_: str = "about:blank", headers: dict[str, str] | None = None,
            **extra) -> JSONResponse:
    body = {"type": type_, "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)

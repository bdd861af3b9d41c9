"""RFC 9457 problem+json for every error the API returns (rendered by crm.problems)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from crm.db.slots import Overloaded
from crm.problems import problem  # the one renderer, shared with the dashboard's CSRF refusal
from crm.services.errors import Conflict, DomainError, Invalid, NotFound, from_integrity_error


class ApiError(Exception):
    """Raised by routes and services: becomes a problem+json response."""

    def __init__(self, status: int, detail: str, *, type_: str = "about:blank", errors: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.type, self.errors, self.headers = status, detail, type_, errors, headers


def not_found(kind: str, id_: object) -> ApiError:
    return ApiError(404, f"{kind} {id_} not found", type_="/problems/not-found")


# Deadlock, serialization failure, lock not available, lock timeout: the database gave up on this
# transaction because of a concurrent one. Nothing was written, so the client may simply retry.
_RETRYABLE_SQLSTATES = {"40P01", "40001", "55P03"}
RETRY_AFTER_SECONDS = "1"
OVERLOAD_RETRY_AFTER = "1"


def retry_problem(detail: str) -> JSONResponse:
    return problem(409, detail, "/problems/concurrent-write", headers={"Retry-After": RETRY_AFTER_SECONDS})


_DOMAIN_STATUS = ((NotFound, 404), (Invalid, 422), (Conflict, 409))


def domain_problem(exc: DomainError) -> JSONResponse:
    """A refusal of a domain service (crm.services) as problem+json: not found 404, invalid 422, conflict 409."""
    status = next((code for kind, code in _DOMAIN_STATUS if isinstance(exc, kind)), 422)
    return problem(status, str(exc), f"/problems/{exc.code}")


def integrity_problem(exc: IntegrityError) -> JSONResponse:
    """Turn a constraint violation into a 4xx that names the field, never revealing other tenants' rows."""
    return domain_problem(from_integrity_error(exc))


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (RFC 9110 wants them all in a 405's Allow; Starlette
    names only those of the first route that matched the path)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        # PARTIAL: the path matches, the method does not
        if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


def problem_for(exc: Exception) -> JSONResponse | None:
    """The answer to an error a route's work can raise (ApiError, Overloaded, a domain service's refusal, a
    constraint violation, a concurrent write, a value the database refuses); None for any other. FastAPI's
    handlers answer with it, and so does the hot requests' door (api.fast_lane), which runs outside them."""
    if isinstance(exc, ApiError):
        return problem(exc.status, exc.detail, exc.type, headers=exc.headers, errors=exc.errors)
    if isinstance(exc, Overloaded):
        # answered within CRM_QUEUE_TIMEOUT instead of letting the client time out
        return problem(503, f"the server is at capacity ({exc}): retry shortly", "/problems/overloaded",
                       headers={"Retry-After": OVERLOAD_RETRY_AFTER})
    if isinstance(exc, DomainError):
        return domain_problem(exc)
    if isinstance(exc, IntegrityError):
        return integrity_problem(exc)
    if isinstance(exc, StaleDataError | ObjectDeletedError):
        # routes lock the rows they change, so this is a last line of defence: another request deleted or
        # changed the record between our read and our write
        return retry_problem("the record was changed or deleted by another request meanwhile: read it again, retry")
    if isinstance(exc, DBAPIError):
        if (getattr(exc.orig, "sqlstate", None) or "") in _RETRYABLE_SQLSTATES:
            return retry_problem("the write collided with a concurrent one and was not applied; retry it")
        # SQLSTATE class 22 is "data exception"; psycopg's own DataError (e.g. a NUL byte in text) has no sqlstate
        if isinstance(exc, DataError) or (getattr(exc.orig, "sqlstate", None) or "").startswith("22"):
            return problem(422, "a value has the wrong format, is out of range or holds a character the "
                                "database cannot store (such as a NUL byte)", "/problems/validation")
    return None


PROBLEMS = (ApiError, Overloaded, DomainError, IntegrityError, StaleDataError, ObjectDeletedError, DBAPIError)


def install_error_handlers(app: FastAPI) -> None:
    async def _problem(_: Request, exc: Exception):
        response = problem_for(exc)
        if response is None:
            raise exc
        return response

    for kind in PROBLEMS:
        app.add_exception_handler(kind, _problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = {**(exc.headers or {}), **({"Allow": allowed_methods(request)} if exc.status_code == 405 else {})}
        return problem(exc.status_code, detail, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        loc = first["loc"][1:] if first["loc"][:1] == ["body"] else first["loc"]   # (a field may be named body)
        where = ".".join(str(p) for p in loc) or "request"
        return problem(422, f"{where}: {first['msg']}", "/problems/validation", errors=errors)

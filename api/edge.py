"""What a worker answers before its app is called: the in-flight bound's 503.

Past its capacity a worker refuses most of what it is offered (in the crowd of bench/load.py, offered three times
what the machine serves, two answers in three are these 503s), so what a refusal costs is capacity the admitted
requests do not get. Through the app a refusal still paid for everything around it: an asyncio task, the
request/response cycle's sends through every pure-ASGI layer (request observer, security headers, known
refusals, the bound itself), uvicorn's header checks. `crm serve`'s HTTP protocol (`app.cli.http_protocol`)
asks `shed` once a request's head is parsed and, when it says so, writes `refusal` itself: no task, no layer.

The answer is the one `api.admission.InFlightLimit` gives inside the app, byte for byte but the request id: the
problem+json with `Retry-After`, the security headers, the request's own `X-Request-ID`. The request is counted
and logged as the request observer does (route `unmatched`, no agency: nothing about the caller is read).

A request is left to the app when some key is being refused in this worker (`KnownRefusals` answers a refused
key first, with its held 429: a flooder refused at once here would come straight back), and a HEAD request
(its answer has no body).
"""

from __future__ import annotations

import functools

from starlette.types import Scope

from api.admission import in_flight
from api.observability.middleware import REQUEST_ID_HEADER, UNMATCHED, record, request_id
from api.security_headers import security_headers
from crm.db import one_trip
from crm.settings import get_settings

STATUS = 503


def shed(scope: Scope) -> bool:
    """Whether this request (its head parsed: method, path, headers) is answered `refusal` before the app."""
    return (in_flight.full() and scope["path"].startswith("/api/") and scope["method"] != "HEAD"
            and not one_trip.leases.any_refused())


def refusal(scope: Scope) -> tuple[str, list[tuple[bytes, bytes]], bytes]:
    """(request id, headers, body) of the 503: the app's own refusal's headers, the security headers and the
    request id, in the order the app's layers add them."""
    rid = request_id(scope)
    headers, body = in_flight.refusal()
    return rid, [*headers, *_security(get_settings().crm_env == "production"),
                 (REQUEST_ID_HEADER, rid.encode("ascii"))], body


def answered(scope: Scope, rid: str, seconds: float) -> None:
    """Count the refusal and write its access line."""
    record(scope, UNMATCHED, rid, STATUS, seconds, 0.0)


@functools.cache
def _security(production: bool) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in security_headers(production))

"""The HTTP protocol `crm serve` runs: uvicorn's httptools protocol with deadlines for slow clients.

uvicorn bounds only the idle time between two requests (`timeout_keep_alive`, armed once a response is
complete). A client that connects and then sends its headers or its body a byte at a time (slowloris)
holds the connection forever, and enough of them exhaust the server's file descriptors. Here a new
connection may stay silent as long as a kept-alive one (`timeout_keep_alive`: a crowd of users opens its
connections before it needs them), each request gets one deadline for its headers from its first byte and
one for its body from the end of the headers; a silent connection past its idle time or a missed header
deadline closes the connection, a missed body deadline answers 408 and closes it. Once a request is
complete the clock stops: a slow *handler* is never cut short. Timeouts come from settings
(CRM_HEADER_TIMEOUT, CRM_BODY_TIMEOUT) and uvicorn's keep-alive timeout.

uvicorn is given this class by import path (`http="app.cli.http_protocol:SlowClientGuard"`), which also
works with several worker processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from crm.settings import get_settings


def _request_timeout_response(seconds: float) -> bytes:
    body = json.dumps({"type": "about:blank", "title": "Request Timeout", "status": 408,
                       "detail": f"The request body did not arrive within {seconds:g} seconds."}).encode()
    head = ("HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class SlowClientGuard(HttpToolsProtocol):
    header_timeout: float | None = None  # None: from settings; tests subclass with their own values
    body_timeout: float | None = None
    idle_timeout: float | None = None    # None: uvicorn's timeout_keep_alive

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_limit = self.header_timeout or settings.crm_header_timeout
        self._body_limit = self.body_timeout or settings.crm_body_timeout
        self._idle_limit = self.idle_timeout or self.timeout_keep_alive
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, on_expiry)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._idle_limit, self._headers_too_slow)   # silent: as idle as a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self._header_limit, self._headers_too_slow)   # from the request's first byte

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            self._disarm()  # a WebSocket leaves this protocol
        else:
            self._arm(self._body_limit, self._body_too_slow)  # disarmed at once when there is no body

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _headers_too_slow(self) -> None:
        self._deadline = None
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if not cycle.response_started and not self.transport.is_closing():
            self.transport.write(_request_timeout_response(self._body_limit))
        # the handler waiting on the body now receives http.disconnect, and whatever it sends is dropped
        cycle.disconnected = True
        cycle.message_event.set()
        self.transport.close()

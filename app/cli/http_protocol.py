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

It also sends each response in one write. uvicorn writes a response's head when the app starts it and its body
when the app sends it: two `send` system calls and two TCP segments for every answer of a JSON API, and on a
VM each one wakes the client's process. Here what a request's handling writes in one turn of the event loop is
joined and written at the end of that turn (`OneWritePerTurn`): one system call, one segment, one wake-up.

And it sheds load at the edge: once a request's head is parsed, a request the worker's in-flight bound refuses
(`api.edge`) is answered its 503 here, without an asyncio task or the app's layers. Its body, if any, is read and
dropped by the parser as for any answered request, and the connection stays open for the next one.

uvicorn is given this class by import path (`http="app.cli.http_protocol:SlowClientGuard"`), which also
works with several worker processes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from api import edge
from crm.settings import get_settings


def _request_timeout_response(seconds: float) -> bytes:
    body = json.dumps({"type": "about:blank", "title": "Request Timeout", "status": 408,
                       "detail": f"The request body did not arrive within {seconds:g} seconds."}).encode()
    head = ("HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class OneWritePerTurn:
    """What a request/response cycle sees as its transport: writes made in one turn of the event loop go to
    the connection's transport together, at the end of the turn (or before a close). Only `write`, `close`
    and `is_closing` are what uvicorn's cycle uses."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


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
        self._writes: OneWritePerTurn | None = None
        self._completed: list[RequestResponseCycle] = []   # refused cycles whose completion runs (`_complete`)

    def _arm(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, on_expiry)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writes = OneWritePerTurn(transport, self.loop)
        self._arm(self._idle_limit, self._headers_too_slow)   # silent: as idle as a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self._header_limit, self._headers_too_slow)   # from the request's first byte

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.cycle is not None and self._writes is not None:
            self.cycle.transport = self._writes   # created just now by uvicorn, its task not yet started
        if self.parser.should_upgrade() and self._should_upgrade():
            self._disarm()  # a WebSocket leaves this protocol
        else:
            self._arm(self._body_limit, self._body_too_slow)  # disarmed at once when there is no body

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app) -> None:
        """uvicorn's start of a request's handling (its head parsed, or its turn come on a pipelined connection)."""
        if edge.shed(cycle.scope):
            self._shed(cycle)
        else:
            super()._start_asgi_task(cycle, app)

    def _shed(self, cycle: RequestResponseCycle) -> None:
        """Answer `api.edge`'s refusal as uvicorn's cycle would have sent it, and complete the cycle."""
        started = time.perf_counter()
        rid, headers, body = edge.refusal(cycle.scope)
        content = [STATUS_LINE[edge.STATUS]]
        for name, value in (*cycle.default_headers, *headers):
            content += [name, b": ", value, b"\r\n"]
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        content += [b"\r\n", body]
        cycle.response_started = cycle.response_complete = True   # a body still to come is read and dropped
        cycle.waiting_for_100_continue = False
        writes = self._writes or self.transport
        writes.write(b"".join(content))
        edge.answered(cycle.scope, rid, time.perf_counter() - started)
        if not cycle.keep_alive:
            writes.close()
        self._complete(cycle)

    def _complete(self, cycle: RequestResponseCycle) -> None:
        """uvicorn's completion of a response: it starts the next pipelined request, which may be refused here in
        turn. Those completions run one after another in this loop, not nested (hundreds of pipelined requests
        refused in a row nested deeper than Python's recursion limit)."""
        self._completed.append(cycle)
        if len(self._completed) > 1:   # inside the loop below: it completes this one next
            return
        try:
            while self._completed:
                self._completed[0].on_response()
                self._completed.pop(0)
        finally:
            self._completed.clear()   # never left non-empty: the next refusal would wait for a loop that is gone

    def shutdown(self) -> None:
        if self._writes is not None:
            self._writes.flush()   # a response written in this turn goes out before uvicorn closes
        super().shutdown()

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

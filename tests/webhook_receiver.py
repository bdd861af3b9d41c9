"""A real webhook receiver for tests: an `http.server` on 127.0.0.1 in a thread that checks every delivery's
signature with `crm.webhooks.signing.verify`, as a receiver would, and answers the statuses it is told to.
Also the fixture that lets deliveries reach it (private targets allowed, tiny backoff) through the settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm.settings import get_settings
from crm.webhooks import deliver_due, signing


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_error: str | None   # None: the signature verified with the secret of the moment

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)   # answered in turn, then 200
    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None   # runs before the answer (e.g. to look at the database)

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


@contextmanager
def receiver(statuses: list[int] | None = None, secret: str | None = None) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) until the block ends."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            error = None
            try:
                signing.verify(state.secret or "", self.headers.get(signing.HEADER), body)
            except signing.SignatureError as exc:
                error = str(exc)
            got = Received(self.path, {k: v for k, v in self.headers.items()}, body, error)
            if state.on_request is not None:
                state.on_request(got)
            with lock:
                state.received.append(got)
                status = state.next_status()
            payload = b'{"ok": true}' if status < 300 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):   # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", list(statuses or []), secret)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def webhook_settings(monkeypatch):
    """Deliveries may reach 127.0.0.1 and retry after 20 ms (doubling), through the settings the code reads."""
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setenv("CRM_WEBHOOK_BACKOFF_SECONDS", "0.02")
    monkeypatch.setenv("CRM_WEBHOOK_TIMEOUT_SECONDS", "5")
    get_settings.cache_clear()

    def change(**values):
        for name, value in values.items():
            monkeypatch.setenv(f"CRM_WEBHOOK_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield change
    monkeypatch.undo()
    get_settings.cache_clear()


def deliver_until(done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the worker's pass until `done()` (every tenant's due deliveries go, as in production)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "deliveries did not reach the expected state in time"
        if not deliver_due():
            time.sleep(0.01)

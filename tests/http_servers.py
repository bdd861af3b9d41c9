"""The app served over real HTTP by uvicorn in a thread of the test process, as `crm serve` serves it
(its protocol, `app.cli.http_protocol.SlowClientGuard`, unless a test gives a subclass of its own)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def served(http: type | None = None, startup_seconds: float = 30) -> Iterator[tuple[str, int]]:
    """(host, port) of the real app on a free loopback port; stopped (and its thread joined) on exit."""
    import uvicorn

    from app.cli.http_protocol import SlowClientGuard
    from app.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", http=http or SlowClientGuard))
    thread = threading.Thread(target=server.run, daemon=True, name="test-http")
    thread.start()
    deadline = time.monotonic() + startup_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)

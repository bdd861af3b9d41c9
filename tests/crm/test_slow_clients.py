"""`crm serve` bounds the time a client may take to send a request: half-sent headers or bodies
(slowloris) do not hold a connection open, and other clients are served meanwhile.

A real uvicorn server with the protocol `crm serve` uses, on a free loopback port; raw sockets play the
slow clients. The deadlines are shortened here; the socket timeout is only the test's upper bound.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from app.cli.http_protocol import SlowClientGuard
from tests.http_servers import served

UPPER_BOUND = 30  # seconds a test waits for the server to close; far above the deadlines below


class QuickGuard(SlowClientGuard):
    header_timeout = 1.0
    body_timeout = 1.5
    idle_timeout = 1.0


@pytest.fixture(scope="module")
def server_address(crm_home):
    with served(QuickGuard) as address:
        yield address


def open_client(address) -> socket.socket:
    sock = socket.create_connection(address)
    sock.settimeout(UPPER_BOUND)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; raises TimeoutError if it keeps the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_half_sent_headers_are_cut_off_while_others_are_served(server_address):
    slow = open_client(server_address)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    others = httpx.get(f"http://{server_address[0]}:{server_address[1]}/healthz", timeout=10)
    assert others.status_code == 200
    assert read_until_closed(slow) == b""
    slow.close()


def test_a_connection_that_never_sends_a_byte_is_closed(server_address):
    idle = open_client(server_address)
    assert read_until_closed(idle) == b""
    idle.close()


def test_a_stalled_body_gets_408_and_the_connection_closed(server_address, tenant):
    slow = open_client(server_address)
    slow.sendall(b"POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Authorization: " + tenant["headers"]["Authorization"].encode() + b"\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"email\": ")
    answer = read_until_closed(slow)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"application/problem+json" in answer
    slow.close()


def test_a_kept_alive_connection_cannot_stall_its_next_request(server_address):
    client = open_client(server_address)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = b""
    while b'"ok"' not in first:
        first += client.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the second request never ends
    assert read_until_closed(client) == b""
    client.close()

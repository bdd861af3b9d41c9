"""`crm serve` sends each response in one write to its socket (`app.cli.http_protocol.OneWritePerTurn`):
uvicorn alone writes a response's head and its body separately, two system calls and two segments per answer.

A real uvicorn server with the protocol `crm serve` uses, on a free loopback port, the real app; the only
addition is a transport that records what the protocol writes before passing it on to the real one.
"""

from __future__ import annotations

import socket
import time

import pytest

from app.cli.http_protocol import SlowClientGuard
from tests.http_servers import served

UPPER_BOUND = 30  # seconds a read may wait; the answers come in milliseconds


class RecordingTransport:
    """The connection's real transport, with a list of the bytes of each `write` made to it."""

    def __init__(self, transport, writes: list[bytes]) -> None:
        self._transport, self.writes = transport, writes

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class RecordedGuard(SlowClientGuard):
    writes: list[list[bytes]] = []   # one list per connection, in the order they were made

    def connection_made(self, transport) -> None:  # type: ignore[override]
        mine: list[bytes] = []
        RecordedGuard.writes.append(mine)
        super().connection_made(RecordingTransport(transport, mine))


@pytest.fixture(scope="module")
def server_address(crm_home):
    with served(RecordedGuard) as address:
        yield address


def _response(sock: socket.socket) -> bytes:
    """One whole response with a content-length (head and body), read off the socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _connect(address) -> tuple[socket.socket, list[bytes]]:
    before = len(RecordedGuard.writes)
    sock = socket.create_connection(address)
    sock.settimeout(UPPER_BOUND)
    deadline = time.monotonic() + UPPER_BOUND
    while len(RecordedGuard.writes) == before:   # the server thread accepts it
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return sock, RecordedGuard.writes[-1]


GET = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_each_answer_on_a_kept_alive_connection_is_one_write_with_its_head_and_body(server_address):
    sock, writes = _connect(server_address)
    with sock:
        answers = []
        for _ in range(3):
            sock.sendall(GET)
            answers.append(_response(sock))
        assert len(writes) == 3
        for written, answer in zip(writes, answers, strict=True):
            assert written == answer   # the whole response, head and body, in one write
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"}")


def test_an_answer_to_a_closing_request_is_sent_whole_before_the_close(server_address):
    sock, writes = _connect(server_address)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):   # until the server closes
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ") and b"connection: close" in received.lower()
    assert received.endswith(b"}") and writes == [received]


def test_a_problem_answer_of_the_api_is_one_write_too(server_address):
    sock, writes = _connect(server_address)
    with sock:
        sock.sendall(b"GET /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")   # no key: 401 problem+json
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 401 ") and b"application/problem+json" in answer
    assert writes == [answer]

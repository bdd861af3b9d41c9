"""Past its in-flight bound a worker of `crm serve` answers the 503 in its HTTP protocol, before the app is
called (`api.edge`): the same answer the app gives, each with its own request id, its access line written, and
the connection kept for the next request (a refused request's body read and dropped).

A real uvicorn server with the protocol `crm serve` uses, in a thread of this process (so the worker's in-flight
count is this process's), the real app and PostgreSQL. One POST whose body never comes holds the only slot.
"""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest

from api import admission
from api.observability.access_log import ACCESS_LOGGER
from app.cli.http_protocol import SlowClientGuard
from crm.db import one_trip
from crm.settings import get_settings
from tests.http_servers import served

UPPER_BOUND = 30  # seconds a test waits for an answer or a count; the answers come in milliseconds


class PatientGuard(SlowClientGuard):
    body_timeout = 120.0   # the held POST keeps its slot for the whole test


@pytest.fixture(scope="module")
def server_address(crm_home):
    with served(PatientGuard) as address:
        yield address


_unread: dict[int, bytes] = {}   # socket fd -> bytes received past the last response read off it


def _connect(address) -> socket.socket:
    sock = socket.create_connection(address)
    sock.settimeout(UPPER_BOUND)
    _unread.pop(sock.fileno(), None)   # a closed socket's leftovers under the same number
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The next whole response on the socket (pipelined answers may arrive several in one segment)."""
    data = _unread.pop(sock.fileno(), b"")
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        rest += sock.recv(65536)
    if rest[length:]:
        _unread[sock.fileno()] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length]


def _request(method: str, path: str, key: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n{extra}"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def _until(condition) -> None:
    deadline = time.monotonic() + UPPER_BOUND
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture
def one_slot_held(server_address, tenant, monkeypatch):
    """The worker's bound at one request, and a POST holding it (its body never comes); released after."""
    base = f"http://{server_address[0]}:{server_address[1]}"
    contact = httpx.post(f"{base}/api/v1/contacts", json={"email": "edge@example.com"}, headers=tenant["headers"],
                         timeout=UPPER_BOUND).json()
    monkeypatch.setattr(get_settings(), "crm_max_in_flight", 1)
    monkeypatch.setattr(one_trip, "leases", one_trip.Leases())   # no key refused here by an earlier test
    held = _connect(server_address)
    held.sendall(_request("POST", "/api/v1/notes", tenant["api_key"], b"{" + b" " * 99)[:-50])
    _until(lambda: admission.in_flight.count == 1)
    try:
        yield contact
    finally:
        held.close()
        _until(lambda: admission.in_flight.count == 0)


def test_past_the_bound_the_protocol_answers_503_without_calling_the_app(server_address, tenant, one_slot_held,
                                                                        monkeypatch, caplog):
    app_refusals = []

    async def refused_by_the_app(send) -> None:
        app_refusals.append(send)

    monkeypatch.setattr(admission.InFlightLimit, "_refuse", staticmethod(refused_by_the_app))
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    contact, key = one_slot_held, tenant["api_key"]
    with _connect(server_address) as sock:   # one kept-alive connection for every request below
        sock.sendall(_request("GET", f"/api/v1/contacts/{contact['id']}", key, extra="X-Request-ID: edge-1\r\n"))
        status, headers, body = _response(sock)
        assert status == 503 and headers["content-type"] == "application/problem+json"
        assert json.loads(body)["type"] == "/problems/overloaded" and headers["retry-after"] == "1"
        assert headers["x-request-id"] == "edge-1" and headers["x-content-type-options"] == "nosniff"
        assert "connection" not in headers   # kept alive

        # a refused write's body is read and dropped: the next request on the connection is parsed as one
        note = json.dumps({"body": "refused", "contact_id": contact["id"]}).encode()
        sock.sendall(_request("POST", "/api/v1/notes", key, note))
        status, again, body_again = _response(sock)
        assert status == 503 and body_again == body and again["x-request-id"] not in ("", "edge-1")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")   # not an API request: not shed
        assert _response(sock)[0] == 200

        assert app_refusals == []   # every 503 came from the protocol
        [line] = [json.loads(r.getMessage()) for r in caplog.records
                  if r.name == ACCESS_LOGGER and r.access["request_id"] == "edge-1"]
        assert line["status"] == 503 and line["path"] == "unmatched" and line["method"] == "GET"
        assert line["tenant_id"] is None and line["db_ms"] == 0

        sock.sendall(_request("POST", "/api/v1/notes", key, note, extra="Connection: close\r\n"))
        status, closing, _ = _response(sock)
        assert status == 503 and closing["connection"] == "close" and sock.recv(1) == b""


def test_the_edges_503_is_the_apps_own_503(server_address, tenant, one_slot_held, monkeypatch):
    """While some key is refused in the worker the app answers (KnownRefusals first): both answers alike."""
    path = f"/api/v1/contacts/{one_slot_held['id']}"

    def answer() -> tuple[int, dict[str, str], bytes]:
        with _connect(server_address) as sock:
            sock.sendall(_request("GET", path, tenant["api_key"], extra="X-Request-ID: same\r\n"))
            return _response(sock)

    at_the_edge = answer()
    monkeypatch.setattr(one_trip.leases, "any_refused", lambda: True)
    from_the_app = answer()
    assert from_the_app[0] == at_the_edge[0] == 503 and from_the_app[2] == at_the_edge[2]
    moving = {"date"}
    assert ({k: v for k, v in from_the_app[1].items() if k not in moving}
            == {k: v for k, v in at_the_edge[1].items() if k not in moving})
    assert list(from_the_app[1]) == list(at_the_edge[1])   # the same headers in the same order


def test_once_the_slot_is_free_the_same_connection_is_answered(server_address, tenant, one_slot_held):
    with _connect(server_address) as sock:
        sock.sendall(_request("GET", f"/api/v1/contacts/{one_slot_held['id']}", tenant["api_key"]))
        assert _response(sock)[0] == 503
        get_settings().crm_max_in_flight = 2   # restored by the fixture's monkeypatch
        sock.sendall(_request("GET", f"/api/v1/contacts/{one_slot_held['id']}", tenant["api_key"]))
        status, headers, body = _response(sock)
        assert status == 200 and json.loads(body)["id"] == one_slot_held["id"] and "ratelimit-limit" in headers


def test_hundreds_of_pipelined_requests_are_each_answered_in_order(server_address, tenant, one_slot_held):
    """A client may pipeline requests (send the next before the answer): uvicorn queues them behind the one being
    handled and starts each as the one before completes. Refused there, one after another, they must not nest."""
    get_settings().crm_max_in_flight = 2   # the held POST and the first GET below: full while it is answered
    count = 400
    first = _request("GET", f"/api/v1/contacts/{one_slot_held['id']}", tenant["api_key"])
    rest = [_request("GET", f"/api/v1/contacts/{one_slot_held['id']}", tenant["api_key"],
                     extra=f"X-Request-ID: pipelined-{n}\r\n") for n in range(count)]
    with _connect(server_address) as sock:
        sock.sendall(first + b"".join(rest))
        answers = [_response(sock) for _ in range(count + 1)]
    assert answers[0][0] == 200
    assert [status for status, _, _ in answers[1:]] == [503] * count
    assert [headers["x-request-id"] for _, headers, _ in answers[1:]] == [f"pipelined-{n}" for n in range(count)]

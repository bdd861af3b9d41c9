"""Password guessing at /login: each try is reserved in PostgreSQL before argon2 runs, counted per (email, client
address), so parallel guesses cannot slip past the limit and a flood from one address leaves the owner's own
address alone. Unknown and known emails cost the same argon2 work. Counted with a real, spied PasswordHasher."""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

import crm.security
from app.web import app
from crm.db.engine import app_engine, tenant_session
from crm.tenancy import LoginThrottled, authenticate_user, create_user

FREE_ATTEMPTS = 5  # what login_reserve (migration 0006) lets through before the back-off starts
ATTACKER = ("203.0.113.7", 40000)
OWNER = ("198.51.100.20", 50000)
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting how often a password is verified."""

    def __init__(self) -> None:
        super().__init__()
        self.verifies = 0
        self._lock = threading.Lock()

    def verify(self, hash, password):
        with self._lock:
            self.verifies += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch) -> CountingHasher:
    spy = CountingHasher()
    monkeypatch.setattr(crm.security, "_hasher", spy)
    return spy


def client_at(address: tuple[str, int], cookie: str | None = None) -> TestClient:
    c = TestClient(app, client=address, follow_redirects=False)
    if cookie:
        c.cookies.set("crm_session", cookie)
    return c


def login(client: TestClient, email: str, password: str):
    token = CSRF_INPUT.search(client.get("/login").text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})


def test_parallel_guesses_reach_argon2_only_as_often_as_allowed(tenant, hasher):
    first = client_at(ATTACKER)
    token = CSRF_INPUT.search(first.get("/login").text).group(1)
    cookie = first.cookies.get("crm_session")
    start = threading.Barrier(48)

    def guess(i: int):
        c = client_at(ATTACKER, cookie)
        start.wait()
        return c.post("/login", data={"email": tenant["admin_email"], "password": f"guess-{i}", "csrf_token": token})

    with ThreadPoolExecutor(48) as pool:
        responses = list(pool.map(guess, range(48)))
    codes = Counter(r.status_code for r in responses)
    assert codes == {401: FREE_ATTEMPTS, 429: 48 - FREE_ATTEMPTS}
    assert hasher.verifies == FREE_ATTEMPTS  # throttled tries never reach argon2
    for r in responses:
        if r.status_code == 429:
            assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
            assert "Too many failed sign-ins" in r.text and "Try again in" in r.text

    # the owner, from their own address, signs in while the attacker is throttled ...
    assert login(client_at(OWNER), tenant["admin_email"], tenant["password"]).status_code == 303
    # ... and the attacker's address stays throttled, even with the right password
    assert login(client_at(ATTACKER), tenant["admin_email"], tenant["password"]).status_code == 429


def test_forwarded_for_headers_do_not_change_the_counted_address(tenant):
    attacker = client_at(ATTACKER)
    for i in range(FREE_ATTEMPTS + 1):
        attacker.headers["X-Forwarded-For"] = f"10.9.8.{i}"
        r = login(attacker, tenant["admin_email"], "guess")
    assert r.status_code == 429


def test_a_success_clears_the_failures_of_that_address(tenant):
    owner = client_at(OWNER)
    for _ in range(FREE_ATTEMPTS - 1):
        assert login(owner, tenant["admin_email"], "typo").status_code == 401
    assert login(owner, tenant["admin_email"], tenant["password"]).status_code == 303
    owner.cookies.clear()
    for _ in range(FREE_ATTEMPTS):
        assert login(owner, tenant["admin_email"], "typo").status_code == 401


def test_unknown_and_known_emails_cost_one_argon2_verify_each(tenant, hasher):
    passwordless = f"nopw-{uuid.uuid4().hex[:8]}@example.com"
    deactivated = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    create_user(tenant["tenant_id"], passwordless, "unused-password")
    create_user(tenant["tenant_id"], deactivated, "gone-password")
    with tenant_session(tenant["tenant_id"]) as s:
        s.execute(text("update users set password_hash = null where email = :e"), {"e": passwordless})
        s.execute(text("update users set is_active = false where email = :e"), {"e": deactivated})
    for email in (tenant["admin_email"], f"nobody-{uuid.uuid4().hex[:8]}@example.com", passwordless, deactivated):
        before = hasher.verifies
        assert authenticate_user(email, "wrong password", client="192.0.2.1") is None
        assert hasher.verifies == before + 1, email
    before = hasher.verifies
    assert authenticate_user(tenant["admin_email"], tenant["password"], client="192.0.2.1") is not None
    assert hasher.verifies == before + 1


def test_the_throttle_is_kept_in_postgresql_not_in_the_process(tenant):
    """Any process (another worker) sees the same count: the reservation is a row, reached by a function."""
    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
    for _ in range(FREE_ATTEMPTS):
        assert authenticate_user(email, "guess", client="192.0.2.9") is None
    with pytest.raises(LoginThrottled) as throttled:
        authenticate_user(email, "guess", client="192.0.2.9")
    assert throttled.value.retry_after >= 1
    # the app role cannot read or reset the table behind the functions
    with app_engine().begin() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("delete from login_attempts"))

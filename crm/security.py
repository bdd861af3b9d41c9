"""Secrets: password hashes (argon2id) and API keys (random, stored as SHA-256, shown once)."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

ROLES = ("admin", "member", "read-only")
WRITE_ROLES = frozenset({"admin", "member"})
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache
def _dummy_hash() -> str:
    """A hash of a random password with the hasher's own parameters, verified when there is no real hash."""
    return _hasher.hash(secrets.token_urlsafe(32))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Always one argon2 verify: with no hash (unknown email, no password set) against a dummy hash of the
    same cost, so the answer's timing does not tell which emails have accounts."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, InvalidHashError):
        return False


def new_api_key() -> tuple[str, str, str]:
    """Return (key, prefix, hash). An API key carries 256 bits, so a fast hash is safe to store."""
    prefix = secrets.token_hex(4)
    key = f"crm_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_token(token: str) -> str:
    """Random bearer tokens (API keys, session ids, invitations) carry 256 bits: a fast hash is safe to store."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_api_key(key: str) -> str:
    return hash_token(key)

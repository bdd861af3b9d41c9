"""Secrets: password hashes (argon2id) and API keys (random, stored as SHA-256, shown once)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

ROLES = ("admin", "member", "read-only")
WRITE_ROLES = frozenset({"admin", "member"})
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def new_api_key() -> tuple[str, str, str]:
    """Return (key, prefix, hash). An API key carries 256 bits, so a fast hash is safe to store."""
    prefix = secrets.token_hex(4)
    key = f"crm_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()

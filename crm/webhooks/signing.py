"""The `CRM-Signature` header: what every delivery carries and how a receiver checks it.

    CRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The timestamp is inside the signed text, so a captured delivery cannot be replayed with a fresh `t`; a
receiver refuses a `t` more than `tolerance` seconds (default 300: a replay window of 5 minutes) from its own
clock, and dedupes on `CRM-Delivery-Id` within that window (a retry is a new attempt of the same delivery,
signed again with a new `t`). During a secret rotation a receiver may try both secrets; a header may also carry
several `v1=` values, any of which may match. `verify` uses the standard library only, so a receiver can copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "CRM-Signature"
SCHEME = "v1"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The header is missing or malformed, its time is outside the replay window, or no signature matches."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `CRM-Signature` header value for `body` sent at `timestamp` (now by default)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},{SCHEME}={signature(secret, t, body)}"


def verify(secret: str, header: str | None, body: bytes, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> int:
    """Check a delivery as its receiver: `header` is the request's `CRM-Signature`, `body` its raw bytes (before
    any JSON parsing). Returns the signed timestamp; raises SignatureError when the header is malformed, its
    time is more than `tolerance` seconds from `now` (either way), or no `v1` signature matches."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"{HEADER} must look like 't=<unix seconds>,{SCHEME}=<hex>'")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"signed at {timestamp}, more than {tolerance}s from now ({int(current)}): "
                             "a replay or a wrong clock")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no signature matches this body and secret")
    return timestamp

"""Deterministic ids and timestamps: the same seed gives the same UUIDs and the same instants."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

DAY_US = 86_400_000_000


def uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` version-4-shaped UUID strings drawn from `rng` (not from the OS), as a numpy str array."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((slice(0, 8), slice(0, 8)), (slice(8, 12), slice(9, 13)), (slice(12, 16), slice(14, 18)),
                     (slice(16, 20), slice(19, 23)), (slice(20, 32), slice(24, 36))):
        out[:, dst] = hexed[:, src]
    return out.view("S36").ravel().astype("U36")


def instants(start: date, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """UTC instants (numpy datetime64[us]) at `seconds` after midnight of day index `day`."""
    base = np.datetime64(start, "us")
    return base + (np.asarray(day, dtype=np.int64) * DAY_US
                   + (np.asarray(seconds) * 1e6).astype(np.int64)).astype("timedelta64[us]")


def work_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Times of day people work: 08:00-18:30 UTC, a little heavier mid-morning."""
    return np.clip(rng.normal(12.5 * 3600, 2.6 * 3600, n), 8 * 3600, 18.5 * 3600)


def history_window(end_date: date, months: int) -> tuple[date, int]:
    """(first day, number of days) of a history of `months` months ending on `end_date` inclusive."""
    start = end_date - timedelta(days=round(months * 365.25 / 12))
    return start, (end_date - start).days + 1


def month_ends(start: date, end_date: date) -> list[date]:
    out = []
    y, m = start.year, start.month
    while True:
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        if last > end_date:
            return out
        if last >= start:
            out.append(last)
        y, m = nxt.year, nxt.month

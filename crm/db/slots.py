"""The bound on web requests that hold a database connection, shared by the API and the dashboard.

A request with a database session crosses several thread-pool hops (its dependencies, the endpoint, the
commit) while holding a pooled connection. Unbounded, such requests can hold every connection while the
pool's threads sit blocked checking one out for the next requests: throughput collapses under many
clients (the known FastAPI + sync SQLAlchemy pool deadlock, fastapi/fastapi#3205). So a request first
waits for a slot here, in the event loop, holding no thread and no connection. API routes and dashboard
pages draw from the same slots, as they draw from the same pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar

from crm.settings import get_settings


class Overloaded(Exception):
    """No database slot or connection within CRM_QUEUE_TIMEOUT: past capacity (the API answers 503)."""


DB_SLOTS = 20   # below app_engine's 5 + 25 overflow and the writes engine's 10 + 10 (crm.db.engine)
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
# True in the code a slot covers (the endpoint, its sync dependencies and threads copy this context).
_held: ContextVar[bool] = ContextVar("db_slot_held", default=False)


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()   # one semaphore per event loop: tests run apps in several loops
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(DB_SLOTS)
    return slots


_waiting = 0   # requests of this process queued for a slot (all its event loops), for /metrics


def waiting() -> int:
    return _waiting


async def db_slot() -> AsyncIterator[None]:
    """A FastAPI dependency (with yield): the slot is held until the dependency exits."""
    global _waiting
    slots = _semaphore()
    _waiting += 1
    try:
        await asyncio.wait_for(slots.acquire(), get_settings().crm_queue_timeout)
    except TimeoutError:
        raise Overloaded(f"no database slot within {get_settings().crm_queue_timeout:g} s") from None
    finally:
        _waiting -= 1
    try:
        previous = _held.get()
        _held.set(True)
        try:
            yield
        finally:
            _held.set(previous)   # not reset(token): the exit may run in another copy of the context
    finally:
        slots.release()


def held() -> bool:
    """Whether the calling code runs inside a db slot."""
    return _held.get()


# The same slot for code that opens its session itself for one part of a request (`async with held_slot()`).
held_slot = contextlib.asynccontextmanager(db_slot)

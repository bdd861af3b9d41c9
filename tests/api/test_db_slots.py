"""Requests holding a database session are bounded in the event loop, before any thread or connection."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from api.main import app
from crm.db import slots


def run_in_fresh_loop(coro):
    """Run a coroutine on its own thread: a browser test in the same process may leave a loop running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_db_slot_bounds_concurrent_holders(monkeypatch):
    monkeypatch.setattr(slots, "DB_SLOTS", 3)
    inside = peak = 0

    async def hold() -> None:
        nonlocal inside, peak
        async for _ in slots.db_slot():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    async def main() -> None:
        await asyncio.gather(*(hold() for _ in range(20)))

    run_in_fresh_loop(main())
    assert peak == 3


def test_many_concurrent_requests_all_succeed(tenant):
    """More concurrent requests than slots, threads and pooled connections: all answer, none times out."""
    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=tenant["headers"],
                                     timeout=120) as client:
            responses = await asyncio.gather(*(client.get("/api/v1/contacts") for _ in range(80)))
        return [r.status_code for r in responses]

    assert run_in_fresh_loop(main()) == [200] * 80

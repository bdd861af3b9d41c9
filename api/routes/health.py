import asyncio

from fastapi import APIRouter, Request

from api.errors import ApiError
from crm.db import one_trip
from crm.db.slots import Overloaded

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
async def healthz(request: Request) -> dict:
    try:
        await one_trip.ping(getattr(request.app.state, "one_trip_pools", {}).get(asyncio.get_running_loop()))
    except Overloaded:
        raise
    except Exception as exc:  # any failure to reach the database means not healthy
        raise ApiError(503, f"database unreachable: {type(exc).__name__}") from exc
    return {"status": "ok"}

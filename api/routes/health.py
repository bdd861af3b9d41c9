from fastapi import APIRouter
from sqlalchemy import text

from api.errors import ApiError
from crm.db.engine import app_engine

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz() -> dict:
    try:
        with app_engine().connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the database means not healthy
        raise ApiError(503, f"database unreachable: {type(exc).__name__}") from exc
    return {"status": "ok"}

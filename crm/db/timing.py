"""Database time per web request: the time a request's statements spent in PostgreSQL, for its log line and
metrics.

The request's middleware calls `begin()` in the request's own task; the holder it puts in a ContextVar is
one mutable object, so thread-pool hops (which run in a *copy* of the context) add to the same total.
Engines report their statements' execution time through `install(engine)`; an async path that talks to
PostgreSQL without SQLAlchemy calls `record(seconds)` itself. Outside a request (CLI, pipelines) there is
no holder and nothing is counted. A commit is not a cursor execution: engines' commit time is not in it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from time import perf_counter

from sqlalchemy import Engine, event


class DbTime:
    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


_request: ContextVar[DbTime | None] = ContextVar("crm_db_time", default=None)


def begin() -> tuple[DbTime, Token]:
    """A fresh total for the request running in this context (reset the token when it ends)."""
    holder = DbTime()
    return holder, _request.set(holder)


def end(token: Token) -> None:
    _request.reset(token)


def record(seconds: float) -> None:
    holder = _request.get()
    if holder is not None:
        holder.seconds += seconds


def current() -> float:
    """Seconds of database time so far in the current request (0.0 outside one)."""
    holder = _request.get()
    return holder.seconds if holder is not None else 0.0


# The start time rides on the statement's execution context: one attribute set and read, no dict on the
# connection, as this runs for every statement of the hot path.
def _before(conn, cursor, statement, parameters, context, executemany) -> None:
    if context is not None:
        context._crm_started = perf_counter()


def _after(conn, cursor, statement, parameters, context, executemany) -> None:
    holder = _request.get()
    if holder is not None and context is not None:
        holder.seconds += perf_counter() - context._crm_started


def _failed(exception_context) -> None:
    context = exception_context.execution_context
    started = getattr(context, "_crm_started", None)
    holder = _request.get()
    if holder is not None and started is not None:
        holder.seconds += perf_counter() - started


def install(engine: Engine) -> Engine:
    """Count `engine`'s statement time into the current request's total; returns the engine."""
    event.listen(engine, "before_cursor_execute", _before)
    event.listen(engine, "after_cursor_execute", _after)
    event.listen(engine, "handle_error", _failed)
    return engine

"""Engines and sessions.

Two roles connect to PostgreSQL:
- the *admin* engine (DATABASE_URL's user, or the embedded superuser) runs migrations and operator
  commands (creating tenants);
- the *app* engine logs in as `crm_app`, a role that owns no table and cannot bypass row-level
  security. Every app transaction starts with `SET LOCAL app.tenant_id = ...` (`set_tenant_sql`), which is
  transaction-local, so a pooled connection never carries a tenant over.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from crm.db import liveness, timing
from crm.ids import parse_uuid
from crm.settings import get_settings

APP_ROLE = "crm_app"
APP_NAME_PREFIX = "crm-"


def name_connections(role: str) -> None:
    """Every connection this process opens from now on shows `crm-<role>` as its `application_name` in
    `pg_stat_activity` (libpq reads PGAPPNAME when it connects): the API's workers, the refresher, the workflow
    worker and the pipelines each use PostgreSQL under their own name, so an operator sees which of them a
    session, a query or a lock belongs to. A PGAPPNAME the environment already sets wins. Child processes
    inherit the name: a command names its connections after starting its own children."""
    os.environ.setdefault("PGAPPNAME", APP_NAME_PREFIX + role)


def admin_url() -> str:
    s = get_settings()
    if s.database_url:
        url = make_url(s.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    from crm.db.embedded import embedded_admin_url

    return embedded_admin_url()


def psycopg_conninfo(sqlalchemy_url: str) -> str:
    """The same URL for a raw psycopg connection (COPY, LISTEN), which takes no SQLAlchemy driver name."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def app_url() -> str:
    url = make_url(admin_url()).set(username=APP_ROLE, password=get_settings().app_db_password)
    return url.render_as_string(hide_password=False)


@lru_cache
def admin_engine() -> Engine:
    return timing.install(liveness.install(create_engine(admin_url(), pool_size=2, max_overflow=4)))


@lru_cache
def app_engine() -> Engine:
    return timing.install(liveness.install(create_engine(app_url(), pool_size=5, max_overflow=25)))


def create_async_app_engine(pooled: bool = True) -> AsyncEngine:
    """The app role's engine for one event loop (psycopg's async driver; its connections belong to the loop
    that opened them): the API's writes run their sessions on it (api.deps.write_in_tenant). Pooled as
    app_engine, whose checkout ping and statement timing it shares; `pooled=False`: a connection per session."""
    options = {"pool_size": 10, "max_overflow": 10} if pooled else {"poolclass": NullPool}
    engine = create_async_engine(app_url(), **options)
    timing.install(liveness.install(engine.sync_engine))
    return engine


@asynccontextmanager
async def async_tenant_session(engine: AsyncEngine, tenant_id: uuid.UUID | str) -> AsyncIterator[AsyncSession]:
    """`tenant_session` on an async engine: one transaction that sees only `tenant_id`'s rows, committed on
    success (the services' commit hooks, crm.services.changes, run in it as in a sync session)."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await session.run_sync(set_tenant, tenant_id)
        yield session


def dispose_engines() -> None:
    for factory in (app_engine, admin_engine):
        if factory.cache_info().currsize:
            factory().dispose()
        factory.cache_clear()
    _app_sessionmaker.cache_clear()


@lru_cache
def _app_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(app_engine(), expire_on_commit=False)


def set_tenant_sql(tenant_id: uuid.UUID) -> str:
    """The statement that scopes the current transaction to one tenant. SET LOCAL rather than set_config():
    Citus forwards SET LOCAL to the worker nodes of the transaction (docs/scale-out.md); both end with the
    transaction. The id is a parsed UUID, so writing it into the statement is safe."""
    return f"set local app.tenant_id = '{parse_uuid(tenant_id, 'tenant_id')}'"


def set_tenant(session: Session, tenant_id: uuid.UUID | str) -> None:
    tid = parse_uuid(tenant_id, "tenant_id")
    session.execute(text(set_tenant_sql(tid)))
    session.info["tenant_id"] = tid


def session_tenant(session: Session) -> uuid.UUID:
    """The tenant a session was bound to by `tenant_session`: code handed a session needs no tenant id
    beside it (which could disagree with it), e.g. for the tenant filter of a LanceDB search."""
    try:
        return session.info["tenant_id"]
    except KeyError:
        raise RuntimeError("this session is not bound to a tenant (open it with tenant_session)") from None


@contextmanager
def tenant_session(tenant_id: uuid.UUID | str) -> Iterator[Session]:
    """A session whose one transaction sees only `tenant_id`'s rows; commits on success."""
    with _app_sessionmaker()() as session, session.begin():
        set_tenant(session, tenant_id)
        yield session


@contextmanager
def admin_session() -> Iterator[Session]:
    with Session(admin_engine(), expire_on_commit=False) as session, session.begin():
        yield session

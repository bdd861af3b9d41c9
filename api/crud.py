"""The one CRUD mechanism behind every resource router: list/get/create/update/delete in a tenant.

Reads and the HTTP edge (ETag/If-Match, Idempotency-Key, row locks, pagination) live here; every write goes
through the resource's domain service (crm.services), which owns the rules.

Reads (get by id, list) are the hot path: async, no ORM, one round trip to PostgreSQL that also admits the
caller (api.deps.read_in_one_trip). Their SQL is compiled from the same models and filters as the ORM's,
nested parts (a deal's stage history, a pipeline's stages) come from `Resource.nested` as JSON, and the
response is the Read schema serialised by pydantic-core, so a read answers exactly what a write returns.

Deliberately no `from __future__ import annotations`: the route functions built here are annotated with
the resource's own schema classes, which FastAPI must see as real classes.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Integer, Select, String, Uuid, bindparam, cast, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from api import fast_lane, fast_writes
from api.deps import CallerDep, read_in_one_trip, write_in_tenant, writer_of
from api.errors import ApiError, not_found
from api.idempotency import Idempotency, IdempotencyDep
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, page
from api.preconditions import check_if_match, etag_of, lock_or_404
from api.sql_json import page_sql, record_fields
from crm.db.one_trip import Caller, Statement
from crm.ids import parse_uuid
from crm.schemas.base import Timestamp
from crm.services.changes import write_pending_and_select


@dataclass
class Resource:
    name: str                        # URL segment, e.g. "companies"
    label: str                       # singular for messages, e.g. "company"
    model: type
    service: ModuleType              # crm.services.<x>: create(session, payload, actor), update, delete
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    search: tuple[str, ...] = ()     # columns matched by ?q=
    filters: tuple[str, ...] = ()    # uuid/text columns filterable by equality
    extra_routes: list[Callable[[APIRouter], None]] = field(default_factory=list)
    nested: dict[str, str] = field(default_factory=dict)   # read field -> SQL giving its JSON, per row


def get_or_404(session: Session, res: Resource, id_: uuid.UUID, lock: bool = False, for_delete: bool = False) -> Any:
    """The row, or 404; `lock=True` before a write: locked until commit, so rules read the row as it is
    changed (a deal's current stage) and a concurrent delete makes this a 404 instead of a lost update."""
    if lock:
        return lock_or_404(session, res.model, id_, res.label, for_delete)
    obj = session.get(res.model, id_)
    if obj is None:  # RLS hides other tenants' rows, so theirs and missing ones look alike
        raise not_found(res.label, id_)
    return obj


def _filter_value(model: type, name: str, value: str) -> Any:
    python_type = getattr(model, name).type.python_type
    try:
        if python_type is uuid.UUID:
            return parse_uuid(value, name)
        if python_type is bool:
            return {"true": True, "1": True, "false": False, "0": False}[value.lower()]
    except (ValueError, KeyError) as exc:
        raise ApiError(422, f"{name}: {value!r} is not a valid {python_type.__name__}",
                       type_="/problems/validation") from exc
    return value


_XMIN = "xmin__"
MAX_QUERY_TEXT = 200   # characters of a list's cursor or search


def _read_columns(res: Resource) -> list:
    table = res.model.__table__
    return [*table.columns, literal_column(f"{table.name}.xmin::text").label(_XMIN),
            *(literal_column(f"({sql})").label(name) for name, sql in res.nested.items())]


ListShape = tuple[tuple[str, ...], bool, bool, bool]   # filters given, updated_since, q, cursor


def list_query(res: Resource, compiled: dict[ListShape, Statement], query: Mapping[str, str], limit: int,
               cursor: str | None, updated_since: datetime | None, q: str | None) -> Statement:
    """The page's statement: SQL compiled once per shape of the query (which filters, since, q, cursor are
    given), values bound per request; the filters' values are read from `query`."""
    model = res.model
    params: dict[str, Any] = {"limit_": limit + 1}
    given = []
    for name in res.filters:
        value = query.get(name)
        if value is not None:
            given.append(name)
            params[f"f_{name}"] = _filter_value(model, name, value)
    if updated_since is not None:
        params["since_"] = updated_since
    if q:
        params["q_"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if cursor:
        params["after_at"], params["after_id"] = decode_cursor(cursor)
    shape = (tuple(given), updated_since is not None, bool(q), bool(cursor))
    statement = compiled.get(shape)
    if statement is None:
        statement = Statement.of(_list_select(res, shape))
        if (fields := _json_fields(res)) is not None:   # PostgreSQL renders the page (api.sql_json)
            statement = Statement(page_sql(statement.sql, fields), statement.params)
        compiled[shape] = statement
    params["page_"] = limit
    return Statement(statement.sql, {**statement.params, **params})   # its constants, then this request's values


def _json_fields(res: Resource) -> str | None:
    return None if res.nested else record_fields(res.read, res.model.__table__)


def _list_select(res: Resource, shape: ListShape) -> Select:
    model = res.model
    given, since, q, cursor = shape
    stmt = select(*_read_columns(res))
    for name in given:
        column = getattr(model, name)
        stmt = stmt.where(column == bindparam(f"f_{name}", type_=column.type))
    if since:
        stmt = stmt.where(model.updated_at >= bindparam("since_", type_=model.updated_at.type))
    if q:
        text = func.concat_ws(" ", *[cast(getattr(model, c), String) for c in res.search])
        stmt = stmt.where(text.ilike(bindparam("q_", type_=String()), escape="\\"))
    if cursor:   # keyset on (created_at, id), as api.pagination: a row comparison, so the page index
        # (tenant_id, created_at, id) starts the scan at the cursor instead of filtering every earlier row
        stmt = stmt.where(tuple_(model.created_at, model.id) > tuple_(
            bindparam("after_at", type_=model.created_at.type), bindparam("after_id", type_=Uuid())))
    return stmt.order_by(model.created_at, model.id).limit(bindparam("limit_", type_=Integer()))


def _json(read: type[BaseModel], row: dict) -> bytes:
    return read.__pydantic_serializer__.to_json(read.model_validate(row))


@functools.cache
def _many(read: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[read])


def _page_json(read: type[BaseModel], rows: list[dict]) -> bytes:
    """The rows of a page as a JSON array, validated and serialised in one pass of pydantic-core each."""
    adapter = _many(read)
    return adapter.dump_json(adapter.validate_python(rows))


_FAST_LIST_PARAMS = frozenset({"limit", "cursor", "q"})


def fast_list_query(res: Resource, query: Mapping[str, str]) -> bool:
    """Whether the fast lane may answer a page with this query (one value per name): only names and values the
    declared list route would take as they are (a limit in range, a cursor and a search within their length,
    the resource's filters; their values are checked by `list_query`), so every refusal the router would give
    (422 for a bad limit) is still given by the router. `updated_since` is left to the router too."""
    if not query.keys() <= _FAST_LIST_PARAMS | set(res.filters):
        return False
    limit = query.get("limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        return False
    return len(query.get("cursor", "")) <= MAX_QUERY_TEXT and len(query.get("q", "")) <= MAX_QUERY_TEXT


class _Row:
    """A row dict with the attributes pagination reads (created_at, id)."""
    __slots__ = ("created_at", "id", "row")

    def __init__(self, row: dict) -> None:
        self.row, self.created_at, self.id = row, row["created_at"], row["id"]


def crud_router(res: Resource) -> APIRouter:
    router = APIRouter(prefix=f"/{res.name}", tags=[res.name])
    Read, Create, Update = res.read, res.create, res.update

    by_id = Statement.of(select(*_read_columns(res)).where(res.model.id == bindparam("id")))

    def stored(session: Session, id_: uuid.UUID) -> tuple[BaseModel, str]:
        """The row as this write's transaction now holds it (server defaults, trigger-set timestamps, nested
        parts) and its ETag: the same SQL and schema as a read by id, so a write answers exactly what a read of
        it answers, run in the statement that writes the write's audit and event rows (one round trip)."""
        (row,) = write_pending_and_select(session, by_id.sql, {"id": id_})
        return Read.model_validate(dict(row)), etag_of(res.model.__tablename__, id_, row[_XMIN], row["updated_at"])

    filters_doc = ", ".join(f"`{f}`" for f in res.filters) or "none"
    list_shapes: dict[ListShape, Statement] = {}
    rendered = _json_fields(res) is not None

    @router.get("", summary=f"List {res.name}",
                description=f"Keyset-paginated. Filters: {filters_doc}; `updated_since`; `q` searches "
                            f"{', '.join(res.search) or 'nothing'}.")
    async def list_(request: Request, caller: CallerDep,
                    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                    cursor: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT)] = None,
                    updated_since: Timestamp | None = None,
                    q: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT)] = None) -> dict:
        return await read_page(request, caller, request.query_params, limit, cursor, updated_since, q)

    async def read_page(request: Request, caller: Caller, query: Mapping[str, str], limit: int,
                        cursor: str | None, updated_since: datetime | None, q: str | None) -> Response:
        statement = list_query(res, list_shapes, query, limit, cursor, updated_since, q)
        (rows,) = await read_in_one_trip(request, caller, statement)
        if rendered:   # one row: the page's JSON objects, how many rows were found, the last one's keys
            found = rows[0]
            body = b"[" + found["data"].encode() + b"]"
            next_cursor = (encode_cursor(found["last_at"], uuid.UUID(found["last_id"])) if found["rows"] > limit
                           else None)
        else:
            rows, next_cursor = page([_Row(r) for r in rows], limit)
            body = _page_json(Read, [r.row for r in rows])
        cursor_json = b"null" if next_cursor is None else f'"{next_cursor}"'.encode()
        return Response(b'{"data":' + body + b',"next_cursor":' + cursor_json + b"}",
                        media_type="application/json")

    def read_page_fast(request: Request, caller: Caller, query: Mapping[str, str]) -> Awaitable[Response]:
        return read_page(request, caller, query, int(query.get("limit", DEFAULT_LIMIT)), query.get("cursor"),
                         None, query.get("q"))

    fast_lane.register_list(res.name, read_page_fast, router.routes[-1], functools.partial(fast_list_query, res))

    # Writes: async routes whose whole transaction (service, stored row, idempotency key, commit) runs on the
    # event loop through the greenlet bridge (api.deps.write_in_tenant); the caller is admitted from the
    # worker's lease when it has one. Create and update are also registered with the hot requests' door
    # (api.fast_writes), which calls the same functions for a valid JSON body without FastAPI's routing.
    async def create_record(request: Request, caller: Caller, payload: BaseModel, idem: Idempotency) -> Response:
        principal = await writer_of(request, caller)

        def transaction(session: Session) -> Response:
            def write():
                obj = res.service.create(session, payload, principal)
                read, tag = stored(session, obj.id)
                return read, {"ETag": tag}
            return idem.respond(session, principal, 201, write)
        return await write_in_tenant(request, principal, transaction)

    @router.post("", status_code=201, response_model=Read, summary=f"Create a {res.label}")
    async def create(payload: Create, request: Request, caller: CallerDep, idem: IdempotencyDep) -> Response:
        return await create_record(request, caller, payload, idem)

    fast_writes.register_create(res.name, create_record, router.routes[-1], Create)

    async def read_one(request: Request, caller: Caller, id: uuid.UUID) -> Response:
        (rows,) = await read_in_one_trip(request, caller, Statement(by_id.sql, {"id": id}))
        if not rows:   # RLS hides other tenants' rows, so theirs and missing ones look alike
            raise not_found(res.label, id)
        row = rows[0]
        return Response(_json(Read, row), media_type="application/json",
                        headers={"ETag": etag_of(res.model.__tablename__, id, row[_XMIN], row["updated_at"])})

    @router.get("/{id}", response_model=Read, summary=f"Get a {res.label}")
    async def get(id: uuid.UUID, request: Request, caller: CallerDep):
        return await read_one(request, caller, id)

    fast_lane.register(res.name, read_one, router.routes[-1])

    async def update_record(request: Request, caller: Caller, id: uuid.UUID, payload: BaseModel) -> Response:
        principal = await writer_of(request, caller)

        def transaction(session: Session) -> Response:
            obj = get_or_404(session, res, id, lock=True)
            check_if_match(request, session, res.model, id)
            res.service.update(session, obj, payload)
            read, tag = stored(session, id)
            return Response(read.__pydantic_serializer__.to_json(read), media_type="application/json",
                            headers={"ETag": tag})
        return await write_in_tenant(request, principal, transaction)

    @router.patch("/{id}", response_model=Read, summary=f"Update a {res.label}",
                  description="Send `If-Match: <ETag>` to update only the version you read (412 otherwise).")
    async def update(id: uuid.UUID, payload: Update, request: Request, caller: CallerDep) -> Response:
        return await update_record(request, caller, id, payload)

    fast_writes.register_update(res.name, update_record, router.routes[-1], Update)

    @router.delete("/{id}", status_code=204, summary=f"Delete a {res.label}",
                   description="Send `If-Match: <ETag>` to delete only the version you read (412 otherwise).")
    async def delete(id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
        principal = await writer_of(request, caller)

        def transaction(session: Session) -> Response:
            obj = get_or_404(session, res, id, lock=True, for_delete=True)
            check_if_match(request, session, res.model, id)
            res.service.delete(session, obj)
            return Response(status_code=204)
        return await write_in_tenant(request, principal, transaction)

    for add in res.extra_routes:
        add(router)
    return router

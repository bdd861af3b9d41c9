"""A page of records rendered as JSON by PostgreSQL, byte for byte as pydantic renders the Read schema.

A page of 50 contacts cost the API more in Python than everything else it does: psycopg building 650 values
and 51 dicts, pydantic validating 50 models and serialising them again (~0.7 ms of a worker's CPU on this
machine, against ~0.3 ms more of PostgreSQL's to render the same page itself). PostgreSQL hands back one text
value instead, `{...},{...}`, in the Read schema's field order and formats:

- uuid, text, boolean, integer, date: as `row_to_json` writes them, which is what pydantic writes (same
  string escapes: `\\"`, `\\\\`, `\\n`-style and `\\u00xx` in lower case; no other character escaped);
- timestamps: `2026-03-01T09:30:00.123456Z`, the offset in the session's time zone as `+01:00`, `Z` for a
  zero offset, the fraction only when it is not zero (pydantic's rules);
- numeric with a scale of at most 6 (e.g. numeric(14,2)): its text as a JSON string, as pydantic writes a
  Decimal (at larger scales Python would switch to an exponent).

A Read schema with any other field (JSON objects, floats, nested lists, validators, serialisers, aliases)
is not renderable: its pages keep the pydantic path. tests/api/test_sql_json.py holds the two together
on hostile text and on timestamps in several time zones.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
import uuid
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Numeric

MAX_SCALE = 6
_PLAIN = (uuid.UUID, str, bool, int, dt.date)   # rendered by row_to_json as pydantic renders them
# Timestamps in pydantic's form; the replaces only ever match the fraction and the offset (the only places
# a '.' or a '+' can appear in the text to_char makes).
_TIMESTAMP = ("replace(replace(to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), '.000000', ''), "
              "'+00:00', 'Z')")


def _base(annotation: object) -> object:
    """X of `X | None` (or X itself); Literal of strings is str."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return str if all(isinstance(v, str) for v in typing.get_args(annotation)) else None
    return annotation


def _field_sql(table, name: str, annotation: object, alias: str) -> str | None:
    column = table.columns.get(name)
    kind = _base(annotation)
    if column is None or kind is None:
        return None
    ref = f"{alias}.{name}"
    if kind is dt.datetime:
        return f"{_TIMESTAMP.format(c=ref)} as {name}"
    if kind is Decimal:
        scale = getattr(column.type, "scale", None)
        ok = isinstance(column.type, Numeric) and scale is not None and scale <= MAX_SCALE
        return f"{ref}::text as {name}" if ok else None
    if kind in _PLAIN and column.type.python_type is kind:
        return f"{ref} as {name}"
    return None


@functools.cache
def record_fields(read: type[BaseModel], table) -> str | None:
    """The select list of the Read schema's fields as PostgreSQL renders them for JSON, from the row `p`
    (one column per field, named and ordered as the schema's), or None if the schema is not renderable."""
    decorators = read.__pydantic_decorators__
    if (decorators.validators or decorators.field_validators or decorators.field_serializers
            or decorators.model_serializers or decorators.model_validators or read.__pydantic_computed_fields__):
        return None
    parts = []
    for name, info in read.model_fields.items():
        if info.alias or info.serialization_alias or info.metadata or info.exclude:
            return None
        sql = _field_sql(table, name, info.annotation, "p")
        if sql is None:
            return None
        parts.append(sql)
    return ", ".join(parts)


def page_sql(page_select: str, fields: str) -> str:
    """One row for a page: `data` (the first `page_` records as JSON objects joined by commas, in order),
    `rows` (how many the page select found: limit + 1 means there is more) and `last_at`, `last_id` (the
    page's last record, for the next cursor). `page_select` is ordered by (created_at, id)."""
    return (
        "select coalesce(string_agg(row_to_json(j)::text, ',' order by p.n__) filter (where p.n__ <= %(page_)s), "
        "'') as data, count(*) as rows, max(p.created_at) filter (where p.n__ = %(page_)s) as last_at, "
        "max(p.id::text) filter (where p.n__ = %(page_)s) as last_id "
        f"from (select row_number() over (order by s.created_at, s.id) as n__, s.* from ({page_select}) s) p, "
        f"lateral (select {fields}) j"
    )

"""The base of every XUpdate schema: a field left out keeps its value; null clears only a nullable column.

A field of a NOT NULL column is declared with its plain type and a `None` default, e.g. `name: Name = None`.
Pydantic does not validate defaults, so leaving the field out works, while an explicit `null` is checked
against the plain type: refused here with a message that says what to do (and OpenAPI shows the field as
not nullable). A nullable column is declared `X | None = None` as usual, and null clears it.
"""

from __future__ import annotations

import types
import typing

from pydantic import ValidationInfo, field_validator

from crm.schemas.base import RequestModel


def allows_null(annotation: object) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(allows_null(a) for a in typing.get_args(annotation))
    return annotation is None or annotation is type(None) or annotation is typing.Any


class UpdateModel(RequestModel):
    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: object, info: ValidationInfo) -> object:
        if value is None and not allows_null(cls.model_fields[info.field_name].annotation):
            raise ValueError("cannot be null, the record requires a value: send one, or leave the field out "
                             "to keep the current value")
        return value

"""List pages straight from database rows to JSON bytes, without pydantic.

A page of 50 conversations went through pydantic twice (validate into models,
dump to JSON-able dicts), then through the JSON encoder: a third of an API
worker's CPU on the busiest screen of the inbox. Rows read from our own
tables need no validation, so a resource whose output model is a flat record
of plain fields (UUID, text, numbers, booleans, timestamps, JSON, arrays) is
encoded here directly: each field taken from its column (secret columns
already reduced to ``has_*`` flags by the caller) and the page encoded once
by orjson with the same JSON pydantic writes (``Z`` for UTC, decimals as
strings, keys sorted like every other response).

A model with anything else (nested models, custom serializers) is not
"flat": `encoder_for` returns None and the caller keeps the pydantic path.
`tests/api/test_page_json.py` checks both paths give the same bytes for every
resource.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
import uuid
from decimal import Decimal
from typing import Any, Callable, Literal, Mapping, Sequence

import orjson
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSON, JSONB

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
_PLAIN = (str, int, float, bool, uuid.UUID, dt.datetime, dt.date, Decimal)


def _default(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, Decimal)):  # asyncpg's own UUID class; Decimal as pydantic writes it
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_plain(annotation: Any) -> bool:
    """A type whose JSON form orjson writes exactly as pydantic does."""
    if annotation in _PLAIN or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(arg is type(None) or _is_plain(arg) for arg in args)
    if origin is Literal:
        return all(isinstance(arg, (str, int, bool)) for arg in args)
    if origin is typing.Annotated:
        return _is_plain(args[0])
    if origin in (list, dict):
        return all(_is_plain(arg) for arg in args)
    return False


class PageEncoder:
    """The fields of one output model and how to read them from a row's values."""

    def __init__(self, fields: Sequence[tuple[str, Any]],
                 converters: Sequence[tuple[str, Callable[[Any], Any]]] = ()) -> None:
        self.fields = tuple(fields)  # (name, default when the row has no such key)
        self.converters = tuple(converters)  # (name, column value -> field value), e.g. Decimal -> float
        self.names = frozenset(name for name, _ in self.fields)

    def items(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The output records of ``rows`` (dicts which may be reused and changed)."""
        if rows and all(type(row) is dict and row.keys() == self.names for row in (rows[0], rows[-1])):
            items = rows  # already exactly the model's fields (a planned list's rows: one query, one key set)
        else:
            fields = self.fields
            items = [{name: row.get(name, default) for name, default in fields} for row in rows]
        for name, convert in self.converters:
            for item in items:
                if item[name] is not None:
                    item[name] = convert(item[name])
        return items

    def json_ready(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """`items` as JSON values (strings for ids and timestamps), for a dict response."""
        return orjson.loads(orjson.dumps(self.items(rows), default=_default, option=orjson.OPT_UTC_Z))

    def page(self, rows: Sequence[Mapping[str, Any]], *, page: int, per_page: int, total: int,
             extra: Mapping[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {"items": self.items(rows), "page": page, "per_page": per_page,
                                "total": total}
        if extra:
            body.update(extra)
        return orjson.dumps(body, default=_default, option=_OPTIONS)


def _base_types(annotation: Any) -> set[Any]:
    """The non-None types a field accepts, with Annotated/Literal/generics reduced to their class."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_base_types(arg) for arg in args if arg is not type(None)))
    if origin is typing.Annotated:
        return _base_types(args[0])
    if origin is Literal:
        return {type(arg) for arg in args}
    if origin is not None:
        return {origin}
    return {annotation}


def _column_type(column: Any) -> Any:
    if isinstance(column.type, ARRAY):
        return list
    if isinstance(column.type, (JSON, JSONB)):
        return Any
    if isinstance(column.type, INET):
        return str  # `mapping_values` turns addresses into text
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _converter(field_types: set[Any], column_type: Any) -> tuple[bool, Callable[[Any], Any] | None]:
    """(compatible, converter): can a column value stand for the field, and how."""
    if Any in field_types or column_type in field_types:
        return True, None
    if column_type is Any and field_types <= {dict, list}:
        return True, None
    if column_type is Decimal and field_types == {float}:
        return True, float
    return False, None


@functools.cache
def encoder_for(out: type[BaseModel], model: type | None = None) -> PageEncoder | None:
    """A `PageEncoder` for a flat output model of ``model``'s rows, or None (use pydantic)."""
    decorators = out.__pydantic_decorators__
    if (out.model_config.get("extra") == "allow" or out.model_computed_fields
            or decorators.field_serializers or decorators.model_serializers
            or decorators.field_validators or decorators.model_validators):
        return None
    columns = model.__table__.columns if model is not None else {}
    fields, converters = [], []
    for name, info in out.model_fields.items():
        if info.alias not in (None, name) or info.serialization_alias not in (None, name):
            return None
        if info.exclude:
            continue
        if not _is_plain(info.annotation):
            return None
        if name in columns:
            compatible, convert = _converter(_base_types(info.annotation), _column_type(columns[name]))
            if not compatible:
                return None
            if convert is not None:
                converters.append((name, convert))
        if info.is_required():
            default = None
        elif info.default_factory is not None:
            return None
        else:
            default = info.default
            if not isinstance(default, (str, int, float, bool, type(None))):
                return None
        fields.append((name, default))
    return PageEncoder(fields, converters)

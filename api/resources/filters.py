"""Declared list filters: each resource says which query parameters it accepts.

- `Equals("status", Conversation.status)`: ``?status=open``; a comma-separated
  value is an ``IN`` (``?status=open,pending``).
- `TagContains("tag", Contact.tags)`: ``?tag=vip,lead`` rows carrying all tags.
- `DateRange("created_at", Contact.created_at)`: ``?created_at_from=...&created_at_to=...``
  (ISO 8601; from inclusive, to exclusive: a ``_to`` before ``_from`` matches nothing).
- `Custom("q", build, ...)`: anything else (full-text search).

Values are converted and checked here, so a bad value is a 422 naming the
parameter, never a database error. Each filter also says what its parameters
take (`Filter.annotation`), and /openapi.json documents exactly that: a typed
parameter (uuid, integer, boolean, one of a few choices, a date) sent empty is a
422 like any other value that is not of its type.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any, Callable, Hashable, Literal, Mapping, Sequence

from sqlalchemy import Select, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from api.errors import ValidationFailed

MAX_IN_VALUES = 50


def _convert(param: str, raw: str, kind: type, choices: Sequence[str] | None) -> Any:
    raw = raw.strip()
    if choices is not None and raw not in choices:
        raise ValidationFailed(param, f"{param} must be one of: {', '.join(choices)}")
    if kind is str:
        return raw
    if kind is uuid.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise ValidationFailed(param, f"{param} must be a UUID") from None
    if kind is bool:
        return parse_bool(param, raw)
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValidationFailed(param, f"{param} must be an integer") from None
    raise TypeError(f"unsupported filter type {kind!r}")


def parse_bool(param: str, raw: str) -> bool:
    """A boolean query parameter: exactly ``true`` or ``false`` (JSON's spelling), else a 422."""
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise ValidationFailed(param, f"{param} must be true or false")


def parse_datetime(param: str, raw: str) -> datetime:
    """ISO 8601 date or datetime (RFC 3339's included); naive values are UTC."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            value = datetime.combine(date.fromisoformat(raw), time.min)
        else:
            value = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", raw))
    except ValueError:
        raise ValidationFailed(param, f"{param} must be an ISO 8601 date or datetime") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # an offset past year 1 or 9999 in UTC: as early / late as can be
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Filter:
    """Base: the query parameters a filter reads and how it narrows the select."""

    kind = str  # (not a field) of its parameters' values, for the OpenAPI document (bool: `parse_bool`)

    def params(self) -> dict[str, str]:
        """Parameter name -> description (for the OpenAPI document)."""
        raise NotImplementedError

    def annotation(self) -> Any:
        """The type of each of its parameters' values, as the OpenAPI document shows it."""
        return self.kind

    def apply(self, stmt: Select, args: Mapping[str, str]) -> Select:
        raise NotImplementedError

    def bind(self, args: Mapping[str, str]) -> list[Binding] | None:
        """The filter as named parameters (see `Binding`): ``[]`` when the request
        does not use it, None when it cannot be expressed that way."""
        return None


@dataclass(frozen=True)
class Binding:
    """One condition of a list query with its values as named parameters, so the
    query's SQL depends only on ``shape`` and can be compiled once and prepared
    (`api.resources.list_sql`)."""

    shape: Hashable
    clause: Callable[[], ColumnElement[bool]]  # uses bindparam(name) for each name of ``values``
    values: Mapping[str, Any]


def _column_type(column: Any) -> Any:
    return column.expression.type


@dataclass(frozen=True)
class Equals(Filter):
    param: str
    column: Any
    kind: type = str
    choices: Sequence[str] | None = None
    description: str = ""

    def params(self) -> dict[str, str]:
        extra = f" (one of: {', '.join(self.choices)})" if self.choices else ""
        return {self.param: (self.description or "equals; comma-separated for any of several") + extra}

    def annotation(self) -> Any:
        return Literal[tuple(self.choices)] if self.choices else self.kind

    @property
    def free_text(self) -> bool:
        return self.kind is str and not self.choices

    def values(self, args: Mapping[str, str]) -> list[Any] | None:
        """The requested values, converted (None: the filter is not used). Empty values
        of a typed filter are refused (`_convert`), never read as "not filtered"."""
        raw = args.get(self.param)
        if raw is None:
            return None
        if self.kind is bool:
            parts = [raw]
        elif self.free_text:
            parts = [p for p in raw.split(",") if p.strip()]
            if not parts:
                return None
        else:
            parts = raw.split(",")
        if len(parts) > MAX_IN_VALUES:
            raise ValidationFailed(self.param, f"{self.param} accepts at most {MAX_IN_VALUES} values")
        return [_convert(self.param, p, self.kind, self.choices) for p in parts]

    def apply(self, stmt: Select, args: Mapping[str, str]) -> Select:
        values = self.values(args)
        if values is None:
            return stmt
        if len(values) == 1:
            return stmt.where(self.column == values[0])
        return stmt.where(self.column.in_(values))

    def bind(self, args: Mapping[str, str]) -> list[Binding] | None:
        values = self.values(args)
        if values is None:
            return []
        name, column = f"f_{self.param}", self.column
        if len(values) == 1:
            return [Binding((self.param, "="), lambda: column == bindparam(name, type_=_column_type(column)),
                            {name: values[0]})]
        return [Binding((self.param, "any"),
                        lambda: column == any_(bindparam(name, type_=ARRAY(_column_type(column)))),
                        {name: values})]


@dataclass(frozen=True)
class TagContains(Filter):
    param: str
    column: Any
    description: str = "rows carrying every one of these tags (comma-separated)"

    def params(self) -> dict[str, str]:
        return {self.param: self.description}

    def values(self, args: Mapping[str, str]) -> list[str] | None:
        raw = args.get(self.param)
        if raw is None or not raw.strip():
            return None
        tags = [t.strip() for t in raw.split(",") if t.strip()]
        if len(tags) > MAX_IN_VALUES:
            raise ValidationFailed(self.param, f"{self.param} accepts at most {MAX_IN_VALUES} values")
        return tags

    def apply(self, stmt: Select, args: Mapping[str, str]) -> Select:
        tags = self.values(args)
        return stmt if tags is None else stmt.where(self.column.contains(tags))

    def bind(self, args: Mapping[str, str]) -> list[Binding] | None:
        tags = self.values(args)
        if tags is None:
            return []
        name, column = f"f_{self.param}", self.column
        return [Binding((self.param, "@>"),
                        lambda: column.contains(bindparam(name, type_=_column_type(column))), {name: tags})]


@dataclass(frozen=True)
class DateRange(Filter):
    name: str
    column: Any

    def params(self) -> dict[str, str]:
        return {
            f"{self.name}_from": f"{self.name} at or after this ISO 8601 date/datetime",
            f"{self.name}_to": f"{self.name} before this ISO 8601 date/datetime "
                               f"(before {self.name}_from: nothing matches)",
        }

    def annotation(self) -> Any:
        return date | datetime

    def bounds(self, args: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
        low = args.get(f"{self.name}_from")
        high = args.get(f"{self.name}_to")
        start = parse_datetime(f"{self.name}_from", low) if low is not None else None
        end = parse_datetime(f"{self.name}_to", high) if high is not None else None
        return start, end

    def apply(self, stmt: Select, args: Mapping[str, str]) -> Select:
        start, end = self.bounds(args)
        if start is not None:
            stmt = stmt.where(self.column >= start)
        if end is not None:
            stmt = stmt.where(self.column < end)
        return stmt

    def bind(self, args: Mapping[str, str]) -> list[Binding] | None:
        start, end = self.bounds(args)
        column, bindings = self.column, []
        low, high = f"f_{self.name}_from", f"f_{self.name}_to"
        if start is not None:
            bindings.append(Binding((low,), lambda: column >= bindparam(low, type_=_column_type(column)),
                                    {low: start}))
        if end is not None:
            bindings.append(Binding((high,), lambda: column < bindparam(high, type_=_column_type(column)),
                                    {high: end}))
        return bindings


@dataclass(frozen=True)
class Custom(Filter):
    param: str
    build: Callable[[str], ColumnElement[bool] | None] = field(compare=False)
    description: str = ""

    def params(self) -> dict[str, str]:
        return {self.param: self.description}

    def apply(self, stmt: Select, args: Mapping[str, str]) -> Select:
        raw = args.get(self.param)
        if raw is None or not raw.strip():
            return stmt
        clause = self.build(raw)
        return stmt if clause is None else stmt.where(clause)

    def bind(self, args: Mapping[str, str]) -> list[Binding] | None:
        raw = args.get(self.param)
        return [] if raw is None or not raw.strip() else None  # used: only `apply` knows how


def apply_filters(stmt: Select, filters: Sequence[Filter], args: Mapping[str, str]) -> Select:
    for declared in filters:
        stmt = declared.apply(stmt, args)
    return stmt


def bind_filters(filters: Sequence[Filter], args: Mapping[str, str]) -> list[Binding] | None:
    """Every used filter as `Binding`s, or None when one of them cannot be bound."""
    bindings: list[Binding] = []
    for declared in filters:
        bound = declared.bind(args)
        if bound is None:
            return None
        bindings.extend(bound)
    return bindings

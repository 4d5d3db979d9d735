"""Generic list pages as prepared statements on a raw asyncpg connection (`Database.raw`).

A list request's SQL depends only on its *shape*: the resource, which filters
it uses (and whether a filter has one value or several), the sort, and whether
the total is counted with the page. Values (organization, filter values,
limit, offset) are named parameters (`api.resources.filters.Binding`). So each
shape is built with SQLAlchemy and compiled once per process, then run with
asyncpg's prepared-statement cache: no statement building, cache-key
computation or result processing per request, which was most of the CPU of
the conversation list.

Scoping is the same as `api.resources.scoping` (the organization is always the
first condition and always a parameter, never left out). JSON columns are
read as their text and embedded in the response as is (`orjson.Fragment`):
no parse and re-encode per row. Only the columns the output model shows (and
the secret columns its ``has_*`` flags are computed from) are read.

Resources scoped through a parent table, custom filters (full-text search)
and custom list routes (a ``base`` select) are not planned here: they keep the
SQLAlchemy path (`api.resources.pagination.fetch_page`).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

import orjson
from sqlalchemy import Integer, Text, Uuid, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import JSON, JSONB

from api.db.session import Database
from api.resources.filters import Binding, Filter, bind_filters
from api.resources.pagination import PageRequest
from api.resources.scoping import has_soft_delete
from api.resources.sorting import apply_sort

TOTAL = "__page_total"
ORG, LIMIT, OFFSET = "_org", "_limit", "_offset"


@dataclass(frozen=True)
class CompiledList:
    sql: str
    params: tuple[str, ...]  # parameter names in $n order
    json_columns: tuple[str, ...]  # read as text, embedded as is


# Shapes seen by this process, most recent last. Bounded: the sort parameter
# alone can spell any number of orders, so clients must not be able to grow it.
MAX_SHAPES = 512
_compiled: OrderedDict[Hashable, CompiledList] = OrderedDict()


def plan_bindings(filters: Sequence[Filter], model: type, args: Mapping[str, str]) -> list[Binding] | None:
    """The request's filters as bindings, or None when this list cannot be planned."""
    if "organization_id" not in model.__table__.columns:
        return None
    return bind_filters(filters, args)


def _columns(model: type, shown: frozenset[str]) -> tuple[list[Any], tuple[str, ...]]:
    """The select list: UUIDs as their text (what the response shows; asyncpg's
    own UUID class would cost a Python call each to encode) and JSON as text."""
    selected, json_columns = [], []
    for column in model.__table__.columns:
        if column.name not in shown:
            continue
        if isinstance(column.type, (JSON, JSONB)):
            selected.append(cast(column, Text).label(column.name))
            json_columns.append(column.name)
        elif isinstance(column.type, Uuid):
            selected.append(cast(column, Text).label(column.name))
        else:
            selected.append(column)
    return selected, tuple(json_columns)


def compile_list(db: Database, model: type, shown: frozenset[str], bindings: Sequence[Binding],
                 order: Sequence[tuple[str, bool]], with_total: bool) -> CompiledList:
    key = (model.__name__, shown, tuple(b.shape for b in bindings), tuple(order), with_total)
    compiled = _compiled.get(key)
    if compiled is not None:
        _compiled.move_to_end(key)
        return compiled
    columns, json_columns = _columns(model, shown)
    where = [model.organization_id == bindparam(ORG, type_=model.organization_id.expression.type)]
    if has_soft_delete(model):
        where.append(model.deleted_at.is_(None))
    where += [binding.clause() for binding in bindings]
    stmt = select(*columns).where(*where)
    if with_total:
        total = select(func.count()).select_from(model.__table__).where(*where).scalar_subquery()
        stmt = stmt.add_columns(total.label(TOTAL))
    stmt = apply_sort(stmt, model, list(order))
    stmt = stmt.limit(bindparam(LIMIT, type_=Integer)).offset(bindparam(OFFSET, type_=Integer))
    result = stmt.compile(dialect=db.engine.dialect)
    compiled = CompiledList(result.string, tuple(result.positiontup or ()), json_columns)
    _compiled[key] = compiled
    while len(_compiled) > MAX_SHAPES:
        _compiled.popitem(last=False)
    return compiled


async def fetch_list(db: Database, compiled: CompiledList, organization_id: uuid.UUID,
                     bindings: Sequence[Binding], page: PageRequest) -> tuple[list[dict[str, Any]], int | None]:
    """The page's rows (dicts by column name, JSON columns as `orjson.Fragment`) and,
    when the statement counts, the total (None otherwise)."""
    values: dict[str, Any] = {ORG: organization_id, LIMIT: page.per_page, OFFSET: page.offset}
    for binding in bindings:
        values.update(binding.values)
    async with db.raw() as conn:
        records = await conn.fetch(compiled.sql, *[values[name] for name in compiled.params])
    if not records:
        return [], None
    keys = tuple(records[0].keys())
    total = None
    if TOTAL in keys:
        total = int(records[0][TOTAL])
        if keys[-1] == TOTAL:
            keys = keys[:-1]  # zip stops before the last value
    rows = [dict(zip(keys, record)) for record in records]  # a third faster than dict(record)
    if TOTAL in keys:
        for row in rows:
            del row[TOTAL]
    for name in compiled.json_columns:
        for row in rows:
            text = row[name]
            if text is not None:
                row[name] = orjson.Fragment(text)
    return rows, total

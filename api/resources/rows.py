"""Reading and writing ORM rows by column name, and loading them in scope.

Model attribute names can differ from column names (``metadata`` is reserved
by SQLAlchemy); the API speaks column names, so these helpers translate.
"""

from __future__ import annotations

import functools
import ipaddress
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import func, inspect
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError, NotFound
from api.resources.scoping import has_soft_delete, scoped_select

SENSITIVE_COLUMNS = {"password_hash", "token_hash"}


@functools.cache
def attribute_names(model: type) -> dict[str, str]:
    """column name -> mapped attribute name (mappers are fixed once configured: cached).

    Treat the result as read-only: it is shared.
    """
    mapper = inspect(model)
    return {prop.columns[0].name: prop.key for prop in mapper.column_attrs}


def _public(values: dict[str, Any]) -> dict[str, Any]:
    for column in SENSITIVE_COLUMNS.intersection(values):
        del values[column]
    for column, value in values.items():
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            values[column] = str(value)
    return values


def row_values(row: Any) -> dict[str, Any]:
    """A row's column values by column name, minus anything secret."""
    names = attribute_names(type(row))
    return _public({column: getattr(row, attr) for column, attr in names.items()})


@functools.cache
def _special_columns(model: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(sensitive columns, INET columns) of ``model``'s table."""
    columns = model.__table__.columns
    sensitive = tuple(c.name for c in columns if c.name in SENSITIVE_COLUMNS)
    inet = tuple(c.name for c in columns if isinstance(c.type, INET))
    return sensitive, inet


def has_special_columns(model: type) -> bool:
    """Whether `mapping_values` changes anything for rows of ``model``."""
    sensitive, inet = _special_columns(model)
    return bool(sensitive or inet)


def mapping_values(model: type, values: dict[str, Any]) -> dict[str, Any]:
    """`row_values` for a dict of a Core row of ``model``'s table (keys are
    column names), changed in place: secrets dropped, addresses as text."""
    sensitive, inet = _special_columns(model)
    for column in sensitive:
        values.pop(column, None)
    for column in inet:
        value = values.get(column)
        if value is not None:
            values[column] = str(value)
    return values


def assign(row: Any, values: Mapping[str, Any]) -> None:
    names = attribute_names(type(row))
    for column, value in values.items():
        setattr(row, names[column], value)


def new_row(model: type, values: Mapping[str, Any]) -> Any:
    names = attribute_names(model)
    return model(**{names[column]: value for column, value in values.items()})


def touch(row: Any) -> None:
    """Set ``updated_at`` when the table has one."""
    if "updated_at" in type(row).__table__.columns:
        row.updated_at = func.now()


async def remove(session: AsyncSession, row: Any) -> None:
    """Soft delete (``deleted_at``) where the table has it, else delete the row."""
    if has_soft_delete(type(row)):
        row.deleted_at = datetime.now(timezone.utc)
        touch(row)
        await session.flush()
    else:
        await session.delete(row)
        await session.flush()


def not_null_columns(model: type, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that are NOT NULL columns of ``model`` (`check_not_null` refuses ``null`` there)."""
    columns = model.__table__.columns
    return [name for name in names if name in columns and not columns[name].nullable]


def check_not_null(model: type, values: Mapping[str, Any]) -> None:
    """``null`` for a NOT NULL column is the client's mistake: a 422 naming it."""
    columns = model.__table__.columns
    for column, value in values.items():
        if value is None and column in columns and not columns[column].nullable:
            raise ApiError(422, "validation_error", f"{column} cannot be null", field=column,
                           details=[{"field": column, "message": "cannot be null"}])


async def load_in_scope(
    session: AsyncSession,
    model: type,
    row_id: Any,
    organization_id: uuid.UUID,
    *,
    label: str,
    for_update: bool = False,
    where: Any = None,
) -> Any:
    """The row with ``row_id`` in the organization, or 404 (another org's id included);
    ``where``: what else the caller's row must meet (`Resource.row_filter`), else 404 too."""
    stmt = scoped_select(model, organization_id).where(model.id == row_id)
    if where is not None:
        stmt = stmt.where(where)
    if for_update:
        stmt = stmt.with_for_update(of=model)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(label)
    return row


async def check_references(
    session: AsyncSession,
    references: Mapping[str, type],
    values: Mapping[str, Any],
    organization_id: uuid.UUID,
) -> None:
    """Every referenced id must be a row of the same organization (else 422 naming the field)."""
    for column, target in references.items():
        ref = values.get(column)
        if ref is None:
            continue
        stmt = scoped_select(target, organization_id).where(target.id == ref)
        found = (await session.execute(stmt.with_only_columns(target.id))).scalar_one_or_none()
        if found is None:
            raise ApiError(422, "validation_error", f"{column} does not exist in your organization",
                           field=column, details=[{"field": column, "message": "does not exist"}])

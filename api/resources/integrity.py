"""Database constraint errors as API errors: a unique clash is a 409 naming the field.

Pydantic checks shapes before anything is written; what only the database
can know (a duplicate name, a row that vanished) arrives as an
`IntegrityError`. asyncpg reports the constraint's columns in ``detail``
(``Key (organization_id, name)=(..., vip) already exists.``); the field is
the last column that is not ``organization_id``.
"""

from __future__ import annotations

import re
from typing import Mapping

from sqlalchemy.exc import DBAPIError, IntegrityError

from api.errors import ApiError, Conflict

_KEY_COLUMNS = re.compile(r"Key \(([^)]*)\)")
_SCOPE_COLUMNS = {"organization_id"}


def _pg_error(exc: DBAPIError) -> object:
    orig = exc.orig
    return getattr(orig, "__cause__", None) or orig


def _sqlstate(exc: DBAPIError) -> str:
    pg = _pg_error(exc)
    return str(getattr(pg, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")


def _key_columns(detail: str) -> tuple[str, ...]:
    match = _KEY_COLUMNS.search(detail or "")
    if not match:
        return ()
    return tuple(c.strip().strip('"') for c in match.group(1).split(","))


def _key_field(detail: str) -> str | None:
    columns = _key_columns(detail)
    named = [c for c in columns if c not in _SCOPE_COLUMNS]
    # COALESCE(...)-style expressions are not columns: report the first plain one
    for column in named:
        if re.fullmatch(r"[a-z_][a-z0-9_]*", column):
            return column
    return None


def integrity_error(
    exc: IntegrityError, resource: str, conflict_fields: Mapping[tuple[str, ...], str] | None = None,
) -> ApiError:
    """The API error for a constraint violation while writing ``resource``.

    ``conflict_fields`` names the field to report for a multi-column unique
    key (``("organization_id", "whatsapp_number_id", "name", "language") -> "name"``).
    """
    pg = _pg_error(exc)
    state = _sqlstate(exc)
    detail = str(getattr(pg, "detail", "") or "")
    column = getattr(pg, "column_name", None)
    if state == "23505":  # unique_violation
        field = (conflict_fields or {}).get(_key_columns(detail)) or _key_field(detail)
        what = f"a {resource} with this {field}" if field else f"this {resource}"
        return Conflict(f"{what} already exists", field=field)
    if state == "23503":  # foreign_key_violation
        field = _key_field(detail) or column
        if "still referenced" in detail or "is still referenced" in detail:
            return Conflict(f"this {resource} is still in use", field=field)
        return ApiError(422, "validation_error", f"{field or 'a reference'} does not exist",
                        field=field, details=[{"field": field or "body", "message": "does not exist"}])
    if state == "23502":  # not_null_violation
        field = column or "body"
        return ApiError(422, "validation_error", f"{field} is required", field=field,
                        details=[{"field": field, "message": "required"}])
    if state == "23514":  # check_violation
        constraint = str(getattr(pg, "constraint_name", "") or "")
        field = _check_field(constraint, str(getattr(pg, "table_name", "") or ""))
        return ApiError(422, "validation_error", f"{field or 'a value'} is not allowed",
                        field=field, details=[{"field": field or "body", "message": "not allowed"}])
    return Conflict(f"this {resource} conflicts with existing data")


def _check_field(constraint: str, table: str) -> str | None:
    # PostgreSQL's default names: <table>_<column>_check
    if table and constraint.startswith(table + "_") and constraint.endswith("_check"):
        return constraint[len(table) + 1: -len("_check")] or None
    return None


def data_error(exc: DBAPIError) -> ApiError:
    """A value PostgreSQL rejected (too long, out of range): a 422."""
    return ApiError(422, "validation_error", "a value is out of range for its field", field=None,
                    details=[{"field": "body", "message": str(getattr(_pg_error(exc), "message", "invalid value"))}])

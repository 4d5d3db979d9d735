"""Page-number pagination: ``?page=1&per_page=20`` (per_page at most 100).

Page numbers (not cursors) because every list screen of the dashboard shows
a total and jumps to page N; lists are small per organization and sorted on
indexed columns with ``id`` as a tie-breaker, so pages are stable. The
response is ``{"items": [...], "page": 1, "per_page": 20, "total": 57,
"total_cached": false}`` (``total_cached``: see `api.resources.totals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Mapping, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.errors import ValidationFailed

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    page: int
    per_page: int
    total: int
    total_cached: bool = Field(False, description=(
        "true when `total` (of a large list) was counted a few seconds ago by the server "
        "and reused; the items are always current"))


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive_int(args: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(name, f"{name} must be an integer") from None
    if value < 1 or value > maximum:
        raise ValidationFailed(name, f"{name} must be between 1 and {maximum}")
    return value


def parse_page(args: Mapping[str, str]) -> PageRequest:
    return PageRequest(
        page=_positive_int(args, "page", 1, MAX_PAGE),
        per_page=_positive_int(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
    )


TOTAL_LABEL = "__page_total"


def count_of(stmt: Select) -> Select:
    """``SELECT count(*)`` of the rows ``stmt`` (filtered, any order) would return."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


async def fetch_page(conn: AsyncConnection, stmt: Select, model: type,
                     page: PageRequest) -> tuple[list[dict[str, Any]], int]:
    """The rows of one page of ``stmt`` (``select(model)`` filtered and ordered), as
    dicts by column name, and the total count — in one round trip.

    The total is an uncorrelated scalar subquery in the page's select list, which
    PostgreSQL evaluates once (an InitPlan), so page and total come from the same
    statement and snapshot. An empty page (past the end) carries no row to read
    the total from, so it is counted separately.
    """
    total_col = count_of(stmt).scalar_subquery().label(TOTAL_LABEL)
    page_stmt = (stmt.with_only_columns(*model.__table__.columns, total_col)
                 .limit(page.per_page).offset(page.offset))
    result = await conn.execute(page_stmt)
    names = [str(name) for name in result.keys()][:-1]  # the table's columns; the total comes last
    rows = result.all()
    if rows:
        return [dict(zip(names, row)) for row in rows], int(rows[0][-1])
    if page.offset == 0:
        return [], 0
    return [], int((await conn.execute(count_of(stmt))).scalar_one())


async def fetch_rows(conn: AsyncConnection, stmt: Select, model: type,
                     page: PageRequest) -> list[dict[str, Any]]:
    """The rows of one page, without counting (the total is known already)."""
    page_stmt = (stmt.with_only_columns(*model.__table__.columns)
                 .limit(page.per_page).offset(page.offset))
    result = await conn.execute(page_stmt)
    names = [str(name) for name in result.keys()]  # plain str: JSON encoders want exactly str keys
    return [dict(zip(names, row)) for row in result.all()]

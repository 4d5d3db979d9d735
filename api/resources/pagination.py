"""Page-number pagination: ``?page=1&per_page=20`` (per_page at most 100).

Page numbers (not cursors) because every list screen of the dashboard shows
a total and jumps to page N; lists are small per organization and sorted on
indexed columns with ``id`` as a tie-breaker, so pages are stable. The
response is ``{"items": [...], "page": 1, "per_page": 20, "total": 57}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Mapping, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive_int(args: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
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


async def fetch_page(session: AsyncSession, stmt: Select, page: PageRequest) -> tuple[list[Any], int]:
    """Rows of one page of ``stmt`` (already filtered and ordered) and the total count."""
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = (await session.execute(count_stmt)).scalar_one()
    rows = (await session.execute(stmt.limit(page.per_page).offset(page.offset))).scalars().all()
    return list(rows), int(total)

"""``?sort=-created_at,name``: order by declared fields only.

A leading ``-`` sorts descending. A field the resource did not declare is a
422 naming ``sort`` (sorting on arbitrary columns would allow slow,
unindexed queries and leak column names). ``id`` is always added last so
pages are stable.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Select

from api.errors import ValidationFailed


def parse_sort(raw: str | None, allowed: Sequence[str], default: str) -> list[tuple[str, bool]]:
    """``[(field, descending), ...]`` from the ``sort`` parameter (absent: ``default``;
    sent empty: a 422, as for every typed query parameter)."""
    if raw is not None and not raw.strip():
        raise ValidationFailed("sort", f"sort must name a field; sortable fields: {', '.join(allowed)}")
    spec = raw if raw is not None else default
    result: list[tuple[str, bool]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("+-")
        if name not in allowed:
            choices = ", ".join(allowed)
            raise ValidationFailed("sort", f"cannot sort by {name!r}; sortable fields: {choices}")
        result.append((name, descending))
    return result


def apply_sort(stmt: Select, model: type, order: list[tuple[str, bool]]) -> Select:
    clauses: list[Any] = []
    for name, descending in order:
        column = getattr(model, name)
        clauses.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    if "id" in model.__table__.columns and not any(name == "id" for name, _ in order):
        clauses.append(model.id.asc())
    return stmt.order_by(*clauses)

"""Monthly partitions of `messages` (the SQL lives in migration 0002).

A periodic task calls `ensure_message_partitions` so next months' partitions
exist before the first message of the month arrives; the DEFAULT partition
catches anything else, and creating a month moves its rows out of DEFAULT.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import text

PARTITION_NAME = re.compile(r"^messages_(\d{4})_(\d{2})$")


async def ensure_message_partitions(conn: Any, months_ahead: int = 3, months_back: int = 0) -> list[str]:
    """Create the partitions of the current UTC month, the next ``months_ahead``
    and the previous ``months_back``; return the names created.

    ``conn`` is an `AsyncConnection` or `AsyncSession`; the caller commits.
    Safe to call concurrently (serialised by an advisory lock).
    """
    if months_ahead < 0 or months_back < 0:
        raise ValueError("months_ahead and months_back must be >= 0")
    result = await conn.execute(
        text("SELECT pytake_ensure_message_partitions(:ahead, :back)"),
        {"ahead": months_ahead, "back": months_back},
    )
    return [row[0] for row in result]


async def create_message_partition(conn: Any, month: date) -> str | None:
    """Create the partition holding ``month`` (any day of it); None if it exists."""
    result = await conn.execute(
        text("SELECT pytake_create_message_partition(:month)"), {"month": month})
    return result.scalar()


async def message_partitions(conn: Any) -> list[str]:
    """Names of the partitions of `messages`, oldest first, DEFAULT last."""
    result = await conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'messages'::regclass ORDER BY c.relname"))
    names = [row[0] for row in result]
    return sorted(names, key=lambda n: (n == "messages_default", n))

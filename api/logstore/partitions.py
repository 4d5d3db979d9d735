"""Time partitions of the PostgreSQL log tables: created ahead, dropped whole past their lifetime.

`message_logs` has monthly partitions (``message_logs_2026_12``), `webhook_logs`
and `api_request_logs` daily ones (``webhook_logs_2026_12_02``), all ranges of
``created_at`` in UTC. `drop_expired` drops a partition once its whole range is
older than the table's lifetime (`api.logstore.store.LIFETIMES`), so a log
lives at least its lifetime and at most one period more.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from api.logstore.store import LIFETIMES

PERIODS = {"message_logs": "month", "webhook_logs": "day", "api_request_logs": "day"}
AHEAD = {"month": 2, "day": 7}  # periods created ahead of the current one
_NAME = re.compile(r"^(?P<table>[a-z_]+?)_(?P<y>\d{4})_(?P<m>\d{2})(?:_(?P<d>\d{2}))?$")
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('pytake_log_partitions'))"


def period_start(table: str, at: datetime) -> date:
    at = at.astimezone(timezone.utc)
    return date(at.year, at.month, 1) if PERIODS[table] == "month" else at.date()


def next_start(table: str, start: date) -> date:
    if PERIODS[table] == "day":
        return start + timedelta(days=1)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def partition_name(table: str, start: date) -> str:
    suffix = start.strftime("%Y_%m") if PERIODS[table] == "month" else start.strftime("%Y_%m_%d")
    return f"{table}_{suffix}"


def _bound(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"


async def create(conn: Any, table: str, starts: Iterable[date]) -> list[str]:
    """Create the partitions of ``table`` starting at ``starts`` (missing ones only);
    the names created. ``conn``: an asyncpg connection."""
    made = []
    async with conn.transaction():
        await conn.execute(_LOCK)
        existing = set(await partitions(conn, table))
        for start in sorted(set(starts)):
            name = partition_name(table, start)
            if name in existing:
                continue
            await conn.execute(f'CREATE TABLE "{name}" PARTITION OF {table} '
                               f"FOR VALUES FROM ('{_bound(start)}') TO ('{_bound(next_start(table, start))}')")
            made.append(name)
    return made


async def ensure_ahead(conn: Any, now: datetime) -> list[str]:
    """The current period's partition and the next few (`AHEAD`) of every log table."""
    made = []
    for table, period in PERIODS.items():
        start = period_start(table, now)
        starts = [start]
        for _ in range(AHEAD[period]):
            starts.append(next_start(table, starts[-1]))
        made += await create(conn, table, starts)
    return made


async def partitions(conn: Any, table: str) -> list[str]:
    """Names of ``table``'s partitions, oldest first."""
    rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = $1::regclass ORDER BY c.relname", table)
    return [r["relname"] for r in rows]


def _range_end(table: str, name: str) -> datetime | None:
    match = _NAME.match(name)
    if match is None or match["table"] != table:
        return None
    start = date(int(match["y"]), int(match["m"]), int(match["d"] or 1))
    end = next_start(table, start)
    return datetime(end.year, end.month, end.day, tzinfo=timezone.utc)


async def drop_expired(conn: Any, now: datetime) -> list[str]:
    """Drop every partition whose whole range is past its table's lifetime; the names dropped."""
    dropped = []
    async with conn.transaction():
        await conn.execute(_LOCK)
        for table in PERIODS:
            horizon = now - LIFETIMES[table]
            for name in await partitions(conn, table):
                end = _range_end(table, name)
                if end is not None and end <= horizon:
                    await conn.execute(f'DROP TABLE "{name}"')
                    dropped.append(name)
    return dropped


__all__ = ["AHEAD", "PERIODS", "create", "drop_expired", "ensure_ahead", "next_start", "partition_name",
           "partitions", "period_start"]

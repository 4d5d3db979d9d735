"""Analytics periods (hour, day, week, month) in an organization's local time.

A period is ``[start, end)`` between two instants. Day, week (Monday first) and
month periods begin at local midnight, so a day is 23 or 25 hours long on a
daylight-saving change; an hour period begins at a local full hour (an instant
offset by whole hours from UTC in most zones).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

from api.zones import zone_or_utc

PERIODS = ("hour", "day", "week", "month")
UTC = timezone.utc


def zone_of(settings: dict | None) -> ZoneInfo:
    """``organizations.settings.timezone`` (default and fallback: UTC)."""
    return zone_or_utc((settings or {}).get("timezone"), "organization settings.timezone")


def _midnight(local: datetime, zone: ZoneInfo) -> datetime:
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def period_start(period: str, at: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the ``period`` holding ``at`` begins."""
    local = at.astimezone(zone)
    if period == "hour":
        return (at - timedelta(minutes=local.minute, seconds=local.second,
                               microseconds=local.microsecond)).astimezone(UTC)
    if period == "day":
        return _midnight(local, zone)
    if period == "week":
        return _midnight(local - timedelta(days=local.weekday()), zone)
    if period == "month":
        return _midnight(local.replace(day=1), zone)
    raise ValueError(f"unknown period {period!r}")


def period_end(period: str, start: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the period beginning at ``start`` ends (the next one begins)."""
    if period == "hour":
        return start + timedelta(hours=1)
    local = start.astimezone(zone)
    if period == "day":
        return _midnight(local + timedelta(days=1, hours=12), zone)
    if period == "week":
        return _midnight(local + timedelta(days=7, hours=12), zone)
    if period == "month":
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    raise ValueError(f"unknown period {period!r}")


def periods_between(period: str, since: datetime, until: datetime, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Every ``(start, end)`` of ``period`` that overlaps ``[since, until)``."""
    start = period_start(period, since, zone)
    while start < until:
        end = period_end(period, start, zone)
        yield start, end
        start = end


__all__ = ["PERIODS", "period_end", "period_start", "periods_between", "zone_of"]

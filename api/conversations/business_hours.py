"""Business hours (``chatbots.business_hours``): is a human available now?

Format (an empty object means "always open")::

    {"timezone": "America/Sao_Paulo",
     "days": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["13:00", "18:00"]],
              "sat": [], "sun": []}}

Day keys are ``mon`` … ``sun`` (full English names are accepted too); a day
that is absent is closed once ``days`` is given; ``{"enabled": false}`` turns
the check off. Intervals may also be objects ``{"start": "09:00", "end": "18:00"}``.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
         "friday": "fri", "saturday": "sat", "sunday": "sun"}


def _parse_time(value: Any) -> time | None:
    try:
        hh, mm = str(value).split(":")[:2]
        h, m = int(hh), int(mm)
        return time(23, 59, 59) if h == 24 else time(h, m)
    except (TypeError, ValueError):
        return None


def is_open(hours: Mapping[str, Any] | None, now: datetime) -> bool:
    """True when ``now`` (aware) falls inside the configured hours."""
    if not hours or hours.get("enabled") is False:
        return True
    days = hours.get("days") or hours.get("schedule")
    if not isinstance(days, Mapping):
        return True
    try:
        zone = ZoneInfo(str(hours.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    today = _DAYS[local.weekday()]
    intervals = None
    for key, value in days.items():
        if _FULL.get(str(key).lower(), str(key).lower()[:3]) == today:
            intervals = value
    if not intervals:
        return False
    if isinstance(intervals, Mapping):
        intervals = [intervals]
    current = local.time()
    for interval in intervals:
        if isinstance(interval, Mapping):
            start, end = _parse_time(interval.get("start")), _parse_time(interval.get("end"))
        elif isinstance(interval, (list, tuple)) and len(interval) == 2:
            start, end = _parse_time(interval[0]), _parse_time(interval[1])
        else:
            continue
        if start and end and start <= current < end:
            return True
    return False

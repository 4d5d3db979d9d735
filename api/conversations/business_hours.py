"""Business hours (``chatbots.business_hours``): is a human available now?

Format (an empty object means "always open")::

    {"timezone": "America/Sao_Paulo",
     "days": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["13:00", "18:00"]],
              "sat": [], "sun": []}}

Day keys are ``mon`` … ``sun`` (full English names are accepted too); a day
that is absent or empty is closed once ``days`` is given; ``{"enabled": false}`` turns
the check off. Intervals may also be objects ``{"start": "09:00", "end": "18:00"}``.
``"24:00"`` is the end of the day; an interval that ends at or before its start spans
midnight (``["22:00", "02:00"]`` on ``fri`` is open from Friday 22:00 to Saturday 02:00).
Times are the zone's wall-clock time, daylight saving included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Mapping

from api.zones import zone_or_utc

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
         "friday": "fri", "saturday": "sat", "sunday": "sun"}
DAY_MINUTES = 24 * 60


def minute_of_day(value: Any) -> int | None:
    """``"HH:MM"`` as minutes since midnight (``"24:00"`` is 1440; seconds, if given, are
    ignored); None when it is not a time."""
    try:
        hh, mm, *seconds = str(value).split(":")
        h, m = int(hh), int(mm)
        if len(seconds) > 1:
            return None
    except (TypeError, ValueError):
        return None
    if 0 <= h < 24 and 0 <= m < 60 or (h, m) == (24, 0):
        return h * 60 + m
    return None


def _intervals(days: Mapping[str, Any], day: str) -> Iterator[tuple[int, int]]:
    """The day's intervals as (start, end) minutes; unreadable ones are skipped."""
    intervals = None
    for key, value in days.items():
        if _FULL.get(str(key).lower(), str(key).lower()[:3]) == day:
            intervals = value
    if not intervals:
        return
    if isinstance(intervals, Mapping):
        intervals = [intervals]
    for interval in intervals:
        if isinstance(interval, Mapping):
            start, end = minute_of_day(interval.get("start")), minute_of_day(interval.get("end"))
        elif isinstance(interval, (list, tuple)) and len(interval) == 2:
            start, end = minute_of_day(interval[0]), minute_of_day(interval[1])
        else:
            continue
        if start is not None and end is not None:
            yield start, end


def is_open(hours: Mapping[str, Any] | None, now: datetime) -> bool:
    """True when ``now`` (aware) falls inside the configured hours."""
    if not hours or hours.get("enabled") is False:
        return True
    days = hours.get("days") or hours.get("schedule")
    if not isinstance(days, Mapping):
        return True
    local = now.astimezone(zone_or_utc(hours.get("timezone"), "business_hours.timezone"))
    today, yesterday = _DAYS[local.weekday()], _DAYS[(local.weekday() - 1) % 7]
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    for start, end in _intervals(days, today):
        if start <= minute < (end if end > start else DAY_MINUTES):
            return True
    # yesterday's intervals that span midnight reach into today
    return any(minute < end for start, end in _intervals(days, yesterday) if end <= start)

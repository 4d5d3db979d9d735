"""``business_hours`` of a chatbot or a department, checked when written.

The runtime reads them (`api.conversations.business_hours`) on every handoff and
assignment pass; a shape it cannot read would leave the chatbot or department closed
(or open) at every hour without a word. So: ``timezone`` an IANA name, ``days`` keyed
``mon`` … ``sun`` (or the full English names, any case), each day a list of intervals
``["HH:MM", "HH:MM"]`` or ``{"start": "HH:MM", "end": "HH:MM"}`` (``"24:00"`` ends the
day; an end at or before its start spans midnight), ``enabled`` a boolean. Anything
else is a 422 naming it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from api.schemas.common import Input, StrictBool, Timezone

# the time's pattern, as documented; ``$(?!\n)`` is the end of the value in Python too
TIME_PATTERN = r"^(([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00(:00)?)$(?!\n)"
_TIME = re.compile(TIME_PATTERN)
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun",
              "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# case-insensitive, spelled out: the pattern is read by ECMA-262, Python and Rust alike
DAY_PATTERN = "^(" + "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in name) for name in _DAY_NAMES) + ")$(?!\n)"
_DAY = re.compile(DAY_PATTERN)


def _day(value: str) -> str:
    if not _DAY.match(value):
        raise ValueError("must be a day of the week: mon, tue, wed, thu, fri, sat or sun")
    return value


_SHAPE = 'an interval is ["HH:MM", "HH:MM"] or {"start": "HH:MM", "end": "HH:MM"}'
MAX_INTERVALS = 48


def _interval(value: Any, where: str) -> None:
    if isinstance(value, dict):
        if set(value) != {"start", "end"}:
            raise ValueError(f"{where}: {_SHAPE}")
        times = [value["start"], value["end"]]
    elif isinstance(value, list) and len(value) == 2:
        times = value
    else:
        raise ValueError(f"{where}: {_SHAPE}")
    for time in times:
        if not isinstance(time, str) or not _TIME.match(time):
            raise ValueError(f'{where}: {time!r} is not a time of day "HH:MM" (00:00 to 24:00)')


def _day_hours(value: Any) -> Any:
    """A day's intervals (a list; one object alone is accepted too); the message names the interval."""
    if isinstance(value, dict):
        _interval(value, "the interval")
        return value
    if not isinstance(value, list):
        raise ValueError(f"must be a list of intervals: {_SHAPE}")
    if len(value) > MAX_INTERVALS:
        raise ValueError(f"at most {MAX_INTERVALS} intervals a day")
    for i, interval in enumerate(value):
        _interval(interval, f"interval {i}")
    return value


_TIME_SCHEMA = {"type": "string", "pattern": TIME_PATTERN}
_INTERVAL_SCHEMA = {"oneOf": [
    {"type": "array", "items": _TIME_SCHEMA, "minItems": 2, "maxItems": 2},
    {"type": "object", "properties": {"start": _TIME_SCHEMA, "end": _TIME_SCHEMA},
     "required": ["start", "end"], "additionalProperties": False}]}
DayHours = Annotated[Any, BeforeValidator(_day_hours), WithJsonSchema({"oneOf": [
    {"type": "array", "items": _INTERVAL_SCHEMA, "maxItems": MAX_INTERVALS}, _INTERVAL_SCHEMA[
        "oneOf"][1]]})]
Day = Annotated[str, Field(json_schema_extra={"pattern": DAY_PATTERN}), AfterValidator(_day)]


def _one_day_once(days: dict[str, Any] | None) -> dict[str, Any] | None:
    if days is not None:
        seen: dict[str, str] = {}
        for key in days:
            day = key.lower()[:3]
            if day in seen:
                raise ValueError(f"{seen[day]!r} and {key!r} are the same day")
            seen[day] = key
    return days


# a key that is no day is refused: the schema says so (patternProperties, nothing else)
Days = Annotated[dict[Day, DayHours], AfterValidator(_one_day_once), Field(json_schema_extra={"additionalProperties": False})]


class BusinessHours(Input):
    """When a human is available (empty: always)."""

    timezone: Timezone | None = None
    enabled: StrictBool | None = None
    days: Days | None = None
    schedule: Days | None = Field(None, description="another name for days")

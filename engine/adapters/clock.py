"""Clocks for the ``Clock`` port."""

from __future__ import annotations

import datetime as dt


class SystemClock:
    """Wall-clock time, UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FixedClock:
    """A clock that only moves when told to (tests, transcripts, benchmarks)."""

    def __init__(self, start: dt.datetime | str = "2026-01-15T12:00:00+00:00") -> None:
        if isinstance(start, str):
            start = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        self.current = start

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)

    def set(self, when: dt.datetime) -> None:
        self.current = when

"""In-process buffers of logs that are not events: API requests and webhook attempts.

A request (or a delivery round) only appends a record to a `LogBuffer`
(no I/O, never an await); a background task (`flush_forever`) writes the
buffer to the log store in batches. A store that is down never blocks or
fails the request: the batch goes back to the front of the buffer and the
task tries again with a growing pause. The buffer is bounded (`max_items`):
past it the oldest records are dropped and counted (``dropped``), so a store
down for hours costs memory up to the bound, never the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Awaitable, Callable

log = logging.getLogger("pytake.logstore")

DEFAULT_MAX_ITEMS = 100_000
FLUSH_BATCH = 1000


class LogBuffer:
    """Records waiting for the store, and how many were dropped for want of room."""

    def __init__(self, name: str, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.name = name
        self.max_items = max_items
        self.items: deque[dict[str, Any]] = deque()
        self.dropped = 0
        self.written = 0
        self.last_error: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def add(self, record: dict[str, Any]) -> None:
        self.items.append(record)
        while len(self.items) > self.max_items:
            self.items.popleft()
            self.dropped += 1

    def extend(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            self.add(r)

    async def flush(self, write: Callable[[list[dict[str, Any]]], Awaitable[None]],
                    batch: int = FLUSH_BATCH) -> int:
        """Write everything buffered, a batch at a time; on a failure the batch goes
        back in front and the error is raised. How many were written."""
        done = 0
        while self.items:
            chunk = [self.items.popleft() for _ in range(min(batch, len(self.items)))]
            try:
                await write(chunk)
            except BaseException as exc:
                self.items.extendleft(reversed(chunk))
                while len(self.items) > self.max_items:  # what arrived meanwhile: the oldest go
                    self.items.popleft()
                    self.dropped += 1
                self.last_error = repr(exc)[:300]
                raise
            done += len(chunk)
            self.written += len(chunk)
            self.last_error = None
        return done

    def stats(self) -> dict[str, Any]:
        return {"buffered": len(self.items), "dropped": self.dropped, "written": self.written,
                "last_error": self.last_error}


async def flush_forever(flushes: list[Callable[[], Awaitable[Any]]], stop: asyncio.Event, *,
                        every: float = 1.0, max_pause: float = 30.0) -> None:
    """Call each flush every ``every`` seconds until ``stop`` (then once more); after a
    failure, pause longer (doubling up to ``max_pause``) before the next try."""
    pause = every
    while True:
        stopping = stop.is_set()
        failed = False
        for flush in flushes:
            try:
                await flush()
            except Exception as exc:  # noqa: BLE001 - the store is down: the records wait
                failed = True
                log.warning("log flush failed (records kept, retrying): %r", exc)
        if stopping:
            return
        pause = min(max_pause, pause * 2) if failed else every
        try:
            await asyncio.wait_for(stop.wait(), pause)
        except asyncio.TimeoutError:
            pass


__all__ = ["DEFAULT_MAX_ITEMS", "FLUSH_BATCH", "LogBuffer", "flush_forever"]

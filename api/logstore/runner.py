"""Where the log store runs: choosing it, the feeder loop of a worker, the backlog figures.

`open_store` picks MongoDB when ``MONGODB_URL`` is set, else the PostgreSQL
tables. A worker process runs one `LogFeeder` (api/workers/tasks.py): rounds of
the ``logs`` event consumer (`api.logstore.feed`) back to back while events
wait, the flush of its webhook-attempt buffer, and every `UPKEEP_SECONDS` the
partitions ahead and retention. A store that fails makes the loop pause
(doubling up to `MAX_PAUSE`) and try again; nothing is lost meanwhile: events
stay in the outbox, attempts in the buffer (bounded).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Any

from api.logstore.buffer import LogBuffer
from api.logstore.feed import FEED_BATCH, event_backlog, feed_once
from api.logstore.store import LogStore

log = logging.getLogger("pytake.logstore")

POLL_SECONDS = 0.5
MAX_PAUSE = 30.0
UPKEEP_SECONDS = 3600.0


def open_store(settings: Any, db: Any) -> LogStore:
    """The log store of this deployment: MongoDB with ``MONGODB_URL``, else PostgreSQL (``db``)."""
    if getattr(settings, "mongodb_url", None):
        from api.logstore.mongo import MongoLogStore

        return MongoLogStore(settings.mongodb_url)
    from api.logstore.postgres import PostgresLogStore

    return PostgresLogStore(db)


class LogFeeder:
    """One per worker process: feeds the store from events and from its webhook-attempt buffer."""

    def __init__(self, db: Any, store: LogStore, *, poll: float = POLL_SECONDS) -> None:
        self.db = db
        self.store = store
        self.poll = poll
        self.webhook_attempts = LogBuffer("webhook_logs")
        self.last_error: str | None = None
        self.failures = 0
        self._upkeep_at = 0.0

    async def upkeep(self, now: datetime | None = None) -> list[str]:
        """Partitions ahead, then retention; the partitions dropped."""
        now = now or datetime.now(timezone.utc)
        await self.store.prepare()
        return await self.store.enforce_retention(now)

    async def run_once(self) -> int:
        """Feed the events waiting (until a batch comes back short of `FEED_BATCH`, or
        another worker feeds), flush the attempts.
        The events handled; raises when the store fails."""
        if time.monotonic() >= self._upkeep_at:
            await self.upkeep()
            self._upkeep_at = time.monotonic() + UPKEEP_SECONDS
        handled = 0
        # back to back while batches come back full; a partial one read everything
        # committed, and the next round waits for the poll (a round right after it
        # would take the few events committed meanwhile: under a steady flow, a
        # consumer transaction and a store write per handful of events)
        while True:
            n = await feed_once(self.db, self.store)
            handled += n or 0
            if not n or n < FEED_BATCH:
                break
        await self.webhook_attempts.flush(self.store.write_webhook_attempts)
        return handled

    async def run_forever(self, stop: asyncio.Event) -> None:
        pause = self.poll
        while not stop.is_set():
            try:
                await self.run_once()
                self.last_error, pause = None, self.poll
            except Exception as exc:  # noqa: BLE001 - the store (or the database) is down: retry later
                self.failures += 1
                self.last_error = repr(exc)[:300]
                pause = min(MAX_PAUSE, max(self.poll, pause * 2))
                log.warning("log store round failed (nothing lost; retrying in %.1fs): %r", pause, exc)
            try:
                await asyncio.wait_for(stop.wait(), pause)
            except asyncio.TimeoutError:
                pass
        try:  # what is still buffered, one last time
            await self.webhook_attempts.flush(self.store.write_webhook_attempts)
        except Exception:  # noqa: BLE001
            log.warning("%d webhook log(s) not written at shutdown", len(self.webhook_attempts))


async def backlog_figures(db: Any, *, store: LogStore | None = None,
                          buffers: list[LogBuffer] = ()) -> dict[str, Any]:
    """The log store's backlog: events not yet logged, and this process's buffers
    (records waiting, dropped for want of room, the last error)."""
    out: dict[str, Any] = {"store": store.kind if store is not None else None,
                           "events_waiting": await event_backlog(db)}
    for b in buffers:
        out[b.name] = b.stats()
    return out


def start(db: Any, settings: Any, stop: asyncio.Event, *, run: bool = True) -> tuple[LogFeeder, asyncio.Task | None]:
    """A worker's feeder and its task (ended by ``stop``); ``run=False`` (the chore
    switched off, `Settings.worker_chores_off`): the feeder without its loop."""
    feeder = LogFeeder(db, open_store(settings, db))
    if not run:
        return feeder, None

    async def loop() -> None:
        try:
            await feeder.run_forever(stop)
        finally:
            await feeder.store.close()

    return feeder, asyncio.create_task(loop(), name="log-feeder")


__all__ = ["LogFeeder", "backlog_figures", "open_store", "start"]

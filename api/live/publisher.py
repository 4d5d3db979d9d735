"""The ``live`` event consumer: committed events → Redis pub/sub, one channel per organization.

Each batch (`api.events.consumer.consume`, one worker at a time) is published
in ``(txid, id)`` order on ``live:org:{organization_id}``, the cursor moving
after the publish: at least once, so a crash republishes a batch and the
API processes drop what a socket already had (cursor order). A message is
``<routing header JSON>\\n<the text sent to clients>``: API processes parse only
the header (cursor and audience, `api.live.audience`) and forward the text.

Run by every worker (`api.workers.tasks`) beside the maintenance loop, polling
every ``live_poll_seconds`` while idle (back to back while busy).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from api.events.consumer import StoredEvent, consume, register
from api.live.audience import audience
from api.live.protocol import LIVE_TYPES, Cursor, event_message

log = logging.getLogger("pytake.live")

CONSUMER = "live"
_CONVERSATIONS = "SELECT id, department_id, assigned_to FROM conversations WHERE id = ANY($1::uuid[])"


def channel(organization_id: Any) -> str:
    return f"live:org:{organization_id}"


def wire(event: StoredEvent, conversation: Any) -> bytes:
    """The pub/sub message of one event (header line, then the client's text)."""
    cursor = Cursor(event.txid, event.id)
    header = {"c": str(cursor), **audience(event.payload, conversation).header()}
    return (json.dumps(header, separators=(",", ":")) + "\n" + event_message(cursor, event.envelope())).encode()


async def start_from_now(db: Any) -> None:
    """Create the consumer's cursor past every committed event (a new deployment
    does not publish its history; clients replay it from `events` if they ask)."""
    async with db.raw() as conn:
        await register(conn, CONSUMER, from_now=True)


async def publish_once(db: Any, redis: Any, limit: int = 500) -> int | None:
    """Publish the next batch; the events handled (None: another worker holds the consumer)."""
    async with consume(db, CONSUMER, limit) as batch:
        if batch is None:
            return None
        events = [e for e in batch.events if e.type in LIVE_TYPES]
        if events:
            keys = list({e.ordering_key for e in events if e.ordering_key is not None})
            rows = {r["id"]: r for r in await batch.conn.fetch(_CONVERSATIONS, keys)} if keys else {}
            async with redis.pipeline(transaction=False) as pipe:
                for e in events:
                    pipe.publish(channel(e.organization_id), wire(e, rows.get(e.ordering_key)))
                await pipe.execute()
        return len(batch.events)


async def run_forever(db: Any, redis: Any, stop: asyncio.Event, poll: float = 0.02) -> None:
    await start_from_now(db)
    while not stop.is_set():
        try:
            handled = await publish_once(db, redis)
        except Exception:  # noqa: BLE001 - a database or Redis blip: the next round retries
            log.exception("live publishing failed")
            handled = None
        if handled:
            continue
        try:
            await asyncio.wait_for(stop.wait(), poll)
        except asyncio.TimeoutError:
            pass


def start(db: Any, redis: Any, settings: Any, stop: asyncio.Event) -> asyncio.Task:
    """The publishing loop of a worker process (api/workers/tasks.py)."""
    return asyncio.create_task(run_forever(db, redis, stop, float(settings.live_poll_seconds)), name="live-publisher")

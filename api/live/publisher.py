"""The ``live`` event consumer: committed events → Redis pub/sub, one channel per organization.

Each batch (`api.events.consumer.consume`, one worker at a time) is published
in ``(txid, id)`` order on ``live:org:{organization_id}``, the cursor moving
after the publish: at least once, so a crash republishes a batch and the
API processes drop what a socket already had (cursor order). A message is
``<routing header JSON>\\n<the text sent to clients>``: API processes parse only
the header (cursor and audience, `api.live.audience`) and forward the text.
On a Redis Cluster, whose pipelines refuse PUBLISH, a round's messages for
one organization go out as one PUBLISH, one message after the other
(`WIRE_SEPARATOR`: a newline, which none of the JSON lines holds): a round
costs a round trip per organization, not per event. On a single server they
are pipelined, a PUBLISH each: one round trip, and each API process writes
the sockets of one event before reading the next (bench/inbox.py's p99 was
a few ms lower so).
An organization whose channel nobody subscribes to (no socket open there) is
skipped (`_listened`, on a cluster asking every node): its messages are
neither built nor published.

Run by every worker (`api.workers.tasks`) beside the maintenance loop, polling
every ``live_poll_seconds`` (back to back while rounds come back full).
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
PUBLISH_BATCH = 500  # events per round at most
_CONVERSATIONS = "SELECT id, department_id, assigned_to FROM conversations WHERE id = ANY($1::uuid[])"


def channel(organization_id: Any) -> str:
    return f"live:org:{organization_id}"


# between the messages of one PUBLISH, as between a message's header and text
# (`api.live.hub.Hub.route` reads pairs of lines)
WIRE_SEPARATOR = b"\n"


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


async def publish_once(db: Any, redis: Any, limit: int = PUBLISH_BATCH) -> int | None:
    """Publish the next batch; the events handled (None: another worker holds the consumer)."""
    # without payloads: most events of a batch are not published (another type, or
    # nobody listening); the payloads of those that are come in one more query
    async with consume(db, CONSUMER, limit, payloads=False) as batch:
        if batch is None:
            return None
        events = [e for e in batch.events if e.type in LIVE_TYPES]
        if events:
            events = await batch.with_payloads(await _listened(redis, events))
        if events:
            keys = list({e.ordering_key for e in events if e.ordering_key is not None})
            rows = {r["id"]: r for r in await batch.conn.fetch(_CONVERSATIONS, keys)} if keys else {}
            messages = [(channel(e.organization_id), wire(e, rows.get(e.ordering_key))) for e in events]
            if _is_cluster(redis):  # a cluster pipeline refuses PUBLISH: one command per organization
                by_channel: dict[str, list[bytes]] = {}
                for name, text in messages:  # in (txid, id) order within each organization
                    by_channel.setdefault(name, []).append(text)
                for name, parts in by_channel.items():
                    await redis.publish(name, WIRE_SEPARATOR.join(parts))
            else:  # one round trip for all; a message each (the API processes' sockets
                async with redis.pipeline(transaction=False) as pipe:  # are written between two)
                    for name, text in messages:
                        pipe.publish(name, text)
                    await pipe.execute()
        return len(batch.events)


def _is_cluster(redis: Any) -> bool:
    return getattr(redis, "nodes_manager", None) is not None


async def _listened(redis: Any, events: list[StoredEvent]) -> list[StoredEvent]:
    """The events of organizations whose channel has a subscriber (an API process with
    a socket open there): nobody else is told, and their messages are not built.
    Asked after the batch was read, so no gap: a socket that subscribes later takes
    its replay ``head`` (`api.live.replay`) after these events were visible, and
    gets them from the table."""
    orgs = list({e.organization_id for e in events})
    names = [channel(o) for o in orgs]
    if _is_cluster(redis):  # a subscription is on one node, and NUMSUB counts that node's:
        try:  # every node's counts, summed (redis-py's merge for PUBSUB NUMSUB)
            counts = await redis.pubsub_numsub(*names, target_nodes="all")
        except Exception:  # noqa: BLE001 - a node out of reach (a failover): publish everything
            log.warning("live: could not count the subscribers on every node; publishing the batch", exc_info=True)
            return events
    else:
        counts = await redis.pubsub_numsub(*names)
    heard = {name.decode() if isinstance(name, bytes) else name for name, n in counts if n}
    if len(heard) == len(orgs):
        return events
    return [e for e in events if channel(e.organization_id) in heard]


async def run_forever(db: Any, redis: Any, stop: asyncio.Event, poll: float = 0.02,
                      limit: int = PUBLISH_BATCH) -> None:
    """Rounds of `publish_once`: back to back while they come back full, else one
    per ``poll``. (A round right after a partial one would find the few events
    committed meanwhile: under a steady flow that was a consumer transaction,
    and its cursor write, per one or two events.)"""
    await start_from_now(db)
    while not stop.is_set():
        try:
            handled = await publish_once(db, redis, limit)
        except Exception:  # noqa: BLE001 - a database or Redis blip: the next round retries
            log.exception("live publishing failed")
            handled = None
        if handled and handled >= limit:
            continue
        try:
            await asyncio.wait_for(stop.wait(), poll)
        except asyncio.TimeoutError:
            pass


def start(db: Any, redis: Any, settings: Any, stop: asyncio.Event) -> asyncio.Task:
    """The publishing loop of a worker process (api/workers/tasks.py)."""
    return asyncio.create_task(run_forever(db, redis, stop, float(settings.live_poll_seconds)), name="live-publisher")

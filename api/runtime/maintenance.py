"""Periodic runtime chores, run by every worker, each tick done by one of them.

- due **question timeouts** (Redis sorted set ``runtime:timeouts``, filled by
  the processor) → wake the conversation; its lease holder runs ``on_timeout``;
- due **send retries** (``outbox:retry``) → wake the conversation's sender;
- **lost wake-ups**: inbound rows still unprocessed and outbound rows still
  pending (unclaimed) after ``STALE`` → enqueue them again (the task queue is
  a signal; PostgreSQL is the truth);
- **abandoned claims** → `sender.reconcile_abandoned_claims`;
- **message partitions** for the coming months (hourly).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from api.runtime.context import Runtime
from api.runtime.processor import TIMEOUTS_KEY
from api.runtime.sender import RETRY_KEY, reconcile_abandoned_claims
from api.workers.queue import DELIVER_CONVERSATIONS, PROCESS_CONVERSATION, enqueue, enqueue_conversations

log = logging.getLogger("pytake.runtime.maintenance")

TICK = 1.0
STALE = timedelta(seconds=30)

_POP_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


async def pop_due(rt: Runtime, key: str, limit: int = 500) -> list[str]:
    """Atomically take the members whose time has come."""
    items = await rt.redis.eval(_POP_DUE, 1, key, time.time(), limit)
    return [i.decode() if isinstance(i, bytes) else str(i) for i in items]


async def _once(rt: Runtime, name: str, every: float) -> bool:
    """True for exactly one worker per ``every`` seconds."""
    return bool(await rt.redis.set(f"maintenance:{name}", "1", nx=True, px=int(every * 1000)))


async def tick(rt: Runtime, *, stale: timedelta = STALE) -> None:
    timeouts = await pop_due(rt, TIMEOUTS_KEY)
    if timeouts:
        await enqueue_conversations(rt.redis, timeouts)
    retries = await pop_due(rt, RETRY_KEY)
    if retries:
        await enqueue(rt.redis, DELIVER_CONVERSATIONS, retries)
    if await _once(rt, "sweep", 10):
        await sweep(rt, stale)
    if await _once(rt, "partitions", 3600):
        from api.db.partitions import ensure_message_partitions

        async with rt.db.transaction() as s:
            await ensure_message_partitions(s)


async def sweep(rt: Runtime, stale: timedelta = STALE) -> None:
    cutoff = datetime.now(timezone.utc) - stale
    async with rt.db.session() as s:
        inbound = (await s.execute(text(
            "SELECT DISTINCT conversation_id FROM messages WHERE direction = 'inbound' "
            "AND metadata->>'processed' = 'false' AND created_at < :cutoff LIMIT 1000"),
            {"cutoff": cutoff})).scalars().all()
        outbound = (await s.execute(text(
            "SELECT DISTINCT conversation_id FROM messages WHERE direction = 'outbound' AND status = 'pending' "
            "AND NOT (metadata ? 'claim_token') AND created_at < :cutoff LIMIT 1000"),
            {"cutoff": cutoff})).scalars().all()
        waiting = (await s.execute(text(
            "SELECT id FROM conversations WHERE flow_variables ? 'wait_deadline' "
            "AND flow_variables->>'wait_deadline' IS NOT NULL "
            "AND (flow_variables->>'wait_deadline')::timestamptz < now() - interval '30 seconds' LIMIT 1000"
        ))).scalars().all()
    if inbound or waiting:
        await enqueue_conversations(rt.redis, [*inbound, *waiting])
    if outbound:
        await enqueue(rt.redis, DELIVER_CONVERSATIONS, [str(c) for c in outbound])
    reconciled = await reconcile_abandoned_claims(rt)
    if reconciled:
        log.warning("%d outbound message(s) with an abandoned send claim marked delivery_unknown", reconciled)


async def run_forever(rt: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await tick(rt)
        except Exception:  # noqa: BLE001 - a failed tick is retried next tick
            log.exception("maintenance tick failed")
        try:
            await asyncio.wait_for(stop.wait(), TICK)
        except asyncio.TimeoutError:
            pass


__all__ = ["PROCESS_CONVERSATION", "DELIVER_CONVERSATIONS", "pop_due", "run_forever", "sweep", "tick"]

"""Periodic runtime chores, run by every worker, each tick done by one of them.

- due **question timeouts** (Redis sorted set ``runtime:timeouts``, filled by
  the processor) → wake the conversation; its lease holder runs ``on_timeout``;
- due **send retries** (``outbox:retry``) → wake the conversation's sender;
- **lost wake-ups** (the sweep, every ``Settings.runtime_sweep_seconds``):
  inbound rows still unprocessed and outbound rows still pending (unclaimed)
  for ``runtime_stale_seconds``, on a conversation whose lease nobody holds,
  → enqueued again (the task queue is a signal; PostgreSQL is the truth). A
  killed worker's lease expires within ``runtime_lease_seconds`` (its holder
  renews it while alive), so its conversations are picked up seconds later.
  Each conversation is woken at most once per stale period. The sweep reads
  only the rows since its last look (a watermark in Redis: the oldest row it
  still found waiting, or its previous cutoff, minus a margin), through the
  ``created_at`` index; every ``runtime_full_sweep_seconds``, and at once when
  Redis lost its data (the watermark and the chore's key are gone with it,
  and so are the queued tasks and the timeouts' sorted set), it reads every
  row. Conversations whose question deadline passed 30 s ago (a timeout the
  sorted set lost) are looked for every `DEADLINES_EVERY` seconds and with
  every full sweep (a scan of `conversations`: not every 2 s);
- **lost media fetches**, in the same sweep: inbound media rows without
  ``metadata.media`` → ``pytake.fetch_media`` again (api/media/inbound.py), at
  most once per `MEDIA_PERIOD_MS` per message, never while a worker holds its
  fetch lock;
- **abandoned claims** → `sender.reconcile_abandoned_claims`;
- **assignment** of queued conversations (`api.assignment.tick`): the
  ``assignment`` event consumer every tick, a sweep every few seconds;
- **live presence** (`api.live.sweep_presence`, every few seconds): the sockets of
  API processes whose heartbeat expired are forgotten and their users marked away;
- **flow path counts** moved from Redis into ``flow_path_counts`` every
  `PATH_FLUSH_EVERY` seconds (`api.analytics.flush_path_counts`, exactly once);
- **chatbot statistics** (`api.analytics.update_chatbot_statistics`, the
  ``chatbot_statistics`` event consumer) every `STATISTICS_EVERY` seconds;
- **analytics snapshots** (`api.analytics.refresh_snapshots`, in a background task):
  each organization's current and previous hour and day every `SNAPSHOTS_EVERY`
  seconds, week and month every hour;
- **message partitions** for the coming months (hourly);
- **campaigns** (`api.campaigns.schedule`, every 2 s): scheduled ones that are due
  start; running ones nobody runs (their worker died) get a runner again; running ones
  whose template Meta stopped (or that was deactivated) are paused with the reason;
- **template sync** of every number with a WABA id (`api.templates.lifecycle.sync_due`,
  every 6 hours, in a background task).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

from api import assignment, live
from api.analytics import flush_path_counts, refresh_snapshots, update_chatbot_statistics
from api.campaigns import schedule as campaign_schedule
from api.runtime_context import Runtime
from api.outbox.locks import CONVERSATION_LEASE, SENDER_LEASE, lease_key
from api.redis_clients import is_cluster
from api.media.inbound import FETCH_LOCK
from api.redis_scripts import memo_key, resend_safe
from api.conversations.process import TIMEOUTS_KEY
from api.outbox.sender import RETRY_KEY, WAITING, reconcile_abandoned_claims
from api.templates.lifecycle import SYNC_EVERY, sync_due
from api.workers.queue import DELIVER_CONVERSATIONS, FETCH_MEDIA, PROCESS_CONVERSATION, enqueue, enqueue_conversations

log = logging.getLogger("pytake.runtime.maintenance")

TICK = 1.0
# a row whose statement took longer than this from its `created_at` to its commit
# may be missed by a watermark sweep (the full sweep still finds it)
SWEEP_MARGIN = timedelta(seconds=10)
WATERMARK_KEY = "maintenance:sweep:since"
WOKEN = "maintenance:woken:"
DEADLINES_EVERY = 30.0
PRESENCE_EVERY = 5.0
PATH_FLUSH_EVERY = 10.0
STATISTICS_EVERY = 2.0
SNAPSHOTS_EVERY = 300.0
MEDIA_PERIOD_MS = 60_000  # a message's lost media fetch is queued again at most this often
_BACKGROUND: set[asyncio.Task] = set()

# sent twice (a lost reply), the second run answers the first's members (api.redis_scripts):
# none is taken from the set and then dropped
_POP_DUE = resend_safe("""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then return due end
redis.call('ZREM', KEYS[1], unpack(due))
return keep(due)
""")

# The conversations nobody holds a lease on (KEYS[2i-1]: the lease of ARGV[i+1])
# and nobody woke in the last ARGV[1] ms (KEYS[2i]: its mark), marked woken now.
# Both keys of a conversation carry its id as hash tag (Redis Cluster: one
# call per conversation there, as the conversations' slots differ). Sent twice,
# the second run answers the first's list (not an empty one: its own marks).
_TO_WAKE = resend_safe("""
local out = {}
for i = 2, #ARGV do
  if redis.call('EXISTS', KEYS[2 * i - 3]) == 0
     and redis.call('SET', KEYS[2 * i - 2], 1, 'NX', 'PX', ARGV[1]) then
    out[#out + 1] = ARGV[i]
  end
end
if #out == 0 then return out end
return keep(out)
""")

async def pop_due(rt: Runtime, key: str, limit: int = 500) -> list[str]:
    """Atomically take the members whose time has come."""
    items = await rt.redis.eval(_POP_DUE, 2, key, memo_key(key), time.time(), limit)
    return [_str(i) for i in items]


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _once(rt: Runtime, name: str, every: float) -> bool:
    """True for exactly one worker per ``every`` seconds."""
    return bool(await rt.redis.set(f"maintenance:{name}", "1", nx=True, px=max(1, int(every * 1000))))


def _stale(rt: Runtime) -> timedelta:
    return timedelta(seconds=float(getattr(rt.settings, "runtime_stale_seconds", 4.0)))


async def tick(rt: Runtime, *, stale: timedelta | None = None) -> None:
    settings = rt.settings
    timeouts = await pop_due(rt, TIMEOUTS_KEY)
    if timeouts:
        await enqueue_conversations(rt.redis, timeouts)
    retries = await pop_due(rt, RETRY_KEY)
    if retries:
        await enqueue(rt.redis, DELIVER_CONVERSATIONS, retries)
    full = await _once(rt, "full-sweep", float(getattr(settings, "runtime_full_sweep_seconds", 3600.0)))
    if full or await _once(rt, "sweep", float(getattr(settings, "runtime_sweep_seconds", 2.0))):
        deadlines = full or await _once(rt, "deadlines", DEADLINES_EVERY)
        await sweep(rt, stale, full=full, deadlines=deadlines)
    off = getattr(settings, "worker_chores_off", frozenset())  # for measuring (bench/e2e.py --off)
    try:  # queued conversations to agents (api/assignment): new events, and a periodic sweep
        if "assignment" not in off:
            await assignment.tick(rt.db, rt.redis, sweep_now=await _once(rt, "assignment", assignment.SWEEP_SECONDS))
    except Exception:  # noqa: BLE001 - the rest of the tick still runs; the next tick retries
        log.exception("assignment failed")
    if await _once(rt, "campaigns", campaign_schedule.EVERY):
        try:
            await campaign_schedule.tick(rt)
        except Exception:  # noqa: BLE001 - the next tick retries
            log.exception("campaign chore failed")
    if await _once(rt, "live-presence", PRESENCE_EVERY):
        try:
            await live.sweep_presence(rt.db, rt.redis)
        except Exception:  # noqa: BLE001
            log.exception("live presence sweep failed")
    if "path-counts" not in off and await _once(rt, "path-counts", PATH_FLUSH_EVERY):  # api/analytics: Redis -> flow_path_counts
        try:
            await flush_path_counts(rt.db, rt.redis)
        except Exception:  # noqa: BLE001 - the batch stays pending; the next flush takes it again
            log.exception("path counts flush failed")
    if "statistics" not in off and await _once(rt, "chatbot-statistics", STATISTICS_EVERY):  # api/analytics: events -> chatbots.statistics
        try:
            await update_chatbot_statistics(rt.db)
        except Exception:  # noqa: BLE001 - the cursor did not move; the next turn reads the events again
            log.exception("chatbot statistics failed")
    if await _once(rt, "analytics-snapshots", SNAPSHOTS_EVERY):  # api/analytics: source tables -> snapshots
        _background(refresh_snapshots(rt.db, periods=("hour", "day")), "analytics snapshots")
    if await _once(rt, "analytics-snapshots-long", 3600):
        _background(refresh_snapshots(rt.db, periods=("week", "month")), "analytics snapshots")
    if await _once(rt, "partitions", 3600):
        from api.db.partitions import ensure_message_partitions

        async with rt.db.transaction() as s:
            await ensure_message_partitions(s)
    if await _once(rt, "template-sync", SYNC_EVERY):  # in the background: the tick is not held up
        _background(sync_due(rt.db, rt.settings), "template sync")


async def _logged(chore: Any, name: str) -> None:
    try:
        await chore
    except Exception:  # noqa: BLE001 - the next turn runs it again
        log.exception("%s failed", name)


def _background(chore: Any, name: str) -> None:
    """Run ``chore`` without holding up the tick (a failure is logged)."""
    task = asyncio.create_task(_logged(chore, name))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


# inbound rows still unprocessed or whose media was never fetched (one scan of the
# same rows) / outbound rows still pending and unclaimed, per conversation with its
# oldest such row ({since}: the watermark's bound, if any)
_WAITING_INBOUND = """
SELECT conversation_id, min(created_at) AS oldest, bool_or(metadata->>'processed' = 'false') AS unprocessed,
       array_agg(id) FILTER (WHERE content ? 'media_id' AND NOT (metadata ? 'media')) AS media
  FROM messages
 WHERE direction = 'inbound' AND created_at < :cutoff{since}
   AND (metadata->>'processed' = 'false' OR (content ? 'media_id' AND NOT (metadata ? 'media')))
 GROUP BY conversation_id ORDER BY oldest LIMIT 1000"""
# WAITING: the outbox index's predicate (migration 0023), so that the sweep reads the rows
# waiting to go out, not every outbound row ever sent
_WAITING_OUTBOUND = f"""
SELECT m.conversation_id, min(m.created_at) AS oldest FROM messages m
 WHERE {WAITING} AND NOT (m.metadata ? 'claim_token')
   AND m.created_at < :cutoff{{since}}
 GROUP BY m.conversation_id ORDER BY oldest LIMIT 1000"""
_PAST_DEADLINE = """
SELECT id FROM conversations WHERE flow_variables ? 'wait_deadline'
   AND flow_variables->>'wait_deadline' IS NOT NULL
   AND (flow_variables->>'wait_deadline')::timestamptz < now() - interval '30 seconds' LIMIT 1000"""


async def sweep(rt: Runtime, stale: timedelta | None = None, *, full: bool = True,
                deadlines: bool | None = None) -> None:
    """Wake conversations whose wake-up was lost (see the module doc). ``full``:
    every row, else the rows since the watermark (every row too when Redis has
    none); ``deadlines`` (default: ``full``): passed question deadlines too."""
    stale = _stale(rt) if stale is None else stale
    cutoff = datetime.now(timezone.utc) - stale
    since = None if full else await _watermark(rt)
    bound = "" if since is None else " AND created_at >= :since"
    params: dict[str, Any] = {"cutoff": cutoff} if since is None else {"cutoff": cutoff, "since": since}
    async with rt.db.session() as s:
        inbound = (await s.execute(text(_WAITING_INBOUND.format(since=bound)), params)).all()
        outbound = (await s.execute(text(_WAITING_OUTBOUND.format(since=bound)), params)).all()
        look = full if deadlines is None else deadlines
        waiting = (await s.execute(text(_PAST_DEADLINE))).scalars().all() if look else []
    oldest = min([cutoff, *(r.oldest for r in inbound[:1]), *(r.oldest for r in outbound[:1])])
    await rt.redis.set(WATERMARK_KEY, (oldest - SWEEP_MARGIN).isoformat())
    period = max(1, int(stale.total_seconds() * 1000))
    wake = await to_wake(rt, CONVERSATION_LEASE, "process:", period,
                         [r.conversation_id for r in inbound if r.unprocessed])
    if wake or waiting:
        await enqueue_conversations(rt.redis, [*wake, *waiting])
    deliver = await to_wake(rt, SENDER_LEASE, "deliver:", period, [r.conversation_id for r in outbound])
    if deliver:
        await enqueue(rt.redis, DELIVER_CONVERSATIONS, deliver)
    fetch = await to_wake(rt, FETCH_LOCK, "media:", max(period, MEDIA_PERIOD_MS),
                          [i for r in inbound for i in r.media or ()])
    if fetch:
        await enqueue(rt.redis, FETCH_MEDIA, fetch)
    if wake or deliver or fetch:
        log.info("woke %d conversation(s) to process and %d to deliver, and %d media fetch(es) (lost wake-ups)",
                 len(wake), len(deliver), len(fetch))
    reconciled = await reconcile_abandoned_claims(rt)
    if reconciled:
        log.warning("%d outbound message(s) with an abandoned send claim marked delivery_unknown", reconciled)


async def _watermark(rt: Runtime) -> datetime | None:
    raw = await rt.redis.get(WATERMARK_KEY)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(_str(raw))
    except ValueError:
        return None


async def to_wake(rt: Runtime, lease_prefix: str, kind: str, period_ms: int, ids: list[Any]) -> list[str]:
    """Of ``ids``, those no lease holder works on (conversations; a media fetch's lock)
    and not woken this period; they count as woken for the next ``period_ms`` (a second
    call within it returns none of them)."""
    if not ids:
        return []
    ids = [str(i) for i in ids]

    async def call(group: list[str]) -> list[Any]:
        keys = [k for i in group for k in (lease_key(lease_prefix, i), f"{WOKEN}{kind}{{{i}}}")]
        keys.append(memo_key(keys[-1]))  # in the slot of the group's (on a cluster: the one) conversation
        return await rt.redis.eval(_TO_WAKE, len(keys), *keys, period_ms, *group)

    if is_cluster(rt.redis):  # each conversation's keys in its own slot
        woken = [w for got in await asyncio.gather(*(call([i]) for i in ids)) for w in got]
    else:
        woken = await call(ids)
    return [_str(i) for i in woken]


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


__all__ = ["PROCESS_CONVERSATION", "DELIVER_CONVERSATIONS", "pop_due", "run_forever", "sweep", "tick", "to_wake"]

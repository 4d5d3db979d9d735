"""The Taskiq broker and the runtime's tasks (plain async functions).

Task names are the constants of `api.workers.queue`, so anything holding a
Redis client can enqueue them. Each worker process opens one `Runtime`
(database pool, redis, Graph client) at startup and, unless it is a live
worker (``--lanes live``), the background chores beside the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncGenerator

from taskiq import AckableMessage, TaskiqEvents, TaskiqState
from taskiq.abc.broker import AsyncBroker
from taskiq_redis import ListQueueBroker

from api.gc_tuning import freeze_startup_heap
from api.redis_clients import is_cluster_url, redis_client, resilient_connection_kwargs
from api.runtime_context import Runtime
from api.conversations.process import process_conversation
from api.outbox.background import BackgroundDelivery
from api.settings import Settings
from api.workers.queue import (DELIVER_CONVERSATIONS, FETCH_MEDIA, HIGH, LANES, PROCESS_CONVERSATION, QUEUE,
                              RUN_CAMPAIGN, SEND_OUTBOX, WORKER_LANES)

log = logging.getLogger("pytake.workers")


class WorkerContext:
    """What tasks of this process share: the runtime, its in-process sending, the maintenance loop."""

    def __init__(self, runtime: Runtime, delivery: BackgroundDelivery) -> None:
        self.runtime = runtime
        self.delivery = delivery
        self.sender = delivery.sender
        self.stop = asyncio.Event()
        self.maintenance: asyncio.Task | None = None
        self.webhooks: asyncio.Task | None = None  # outbound webhooks' delivery loop
        self.live: asyncio.Task | None = None  # the live channel's publisher (api.live)
        self.logs: asyncio.Task | None = None  # the log store's feeder (api/logstore/runner.py)
        self.log_feeder: Any = None


_CONTEXT: WorkerContext | None = None


def context() -> WorkerContext:
    if _CONTEXT is None:
        raise RuntimeError("the worker runtime is not started")
    return _CONTEXT


async def start_context(settings: Settings, *, maintenance: bool = True) -> WorkerContext:
    """Open this process's `Runtime`, sending from the process (`BackgroundDelivery`); with
    ``maintenance``, the background chores beside it: the maintenance loop, the log store's
    feeder, outbound webhooks' delivery and the live channel's publisher."""
    global _CONTEXT
    from api.workers.maintenance import run_forever

    runtime = Runtime.open(settings, delivery=BackgroundDelivery)
    assert isinstance(runtime.delivery, BackgroundDelivery)
    ctx = WorkerContext(runtime, runtime.delivery)
    if maintenance:
        from api.events.webhooks import start as start_webhooks
        from api.logstore import start_feeder

        off = getattr(settings, "worker_chores_off", frozenset())  # for measuring a chore's cost (bench/e2e.py --off)
        if "maintenance" not in off:
            ctx.maintenance = asyncio.create_task(run_forever(runtime, ctx.stop))
        ctx.log_feeder, logs = start_feeder(runtime.db, runtime.settings, ctx.stop, run="logs" not in off)
        ctx.logs = logs
        if "webhooks" not in off:
            ctx.webhooks = start_webhooks(runtime.db, runtime.settings, ctx.stop, runtime.redis,
                                          observe=ctx.log_feeder.webhook_attempts.extend)
        if "live" not in off:
            from api.live import start_publisher

            ctx.live = start_publisher(runtime.db, runtime.redis, runtime.settings, ctx.stop)
    _CONTEXT = ctx
    return ctx


async def stop_context() -> None:
    global _CONTEXT
    ctx, _CONTEXT = _CONTEXT, None
    if ctx is None:
        return
    ctx.stop.set()
    if ctx.maintenance is not None:
        await ctx.maintenance
    if ctx.webhooks is not None:
        await ctx.webhooks
    if ctx.live is not None:
        await ctx.live
    if ctx.logs is not None:
        await ctx.logs
    # the sends under way (in-process deliveries of replies just produced) finish first
    await ctx.delivery.drain(timeout=ctx.runtime.settings.shutdown_grace_seconds)
    await ctx.runtime.close()


async def process_conversation_task(conversation_id: str) -> int:
    return await process_conversation(context().runtime, conversation_id)


async def send_outbox_task(message_ids: list[str]) -> None:
    await context().sender.send_messages(message_ids)


async def deliver_conversations_task(conversation_ids: list[str]) -> None:
    await context().sender.deliver_conversations(conversation_ids)


async def run_campaign_task(campaign_id: str) -> int:
    from api.campaigns.runner import run_campaign

    return await run_campaign(context().runtime, campaign_id)


async def fetch_media_task(message_ids: list[str]) -> None:
    from api.media import fetch_inbound_media

    runtime = context().runtime
    await fetch_inbound_media(runtime.db, runtime.settings, message_ids, redis=runtime.redis)


class BatchListQueueBroker(ListQueueBroker):
    """`ListQueueBroker` whose worker takes up to `FETCH_BATCH` tasks per Redis round
    trip (``RPOP key count``), blocking (``BRPOP``) only when the list is empty.

    The stock receiver pops one task per round trip; under load that loop, not
    the tasks, capped a worker's throughput and let the list grow. Tasks popped
    but not yet started are lost if the worker dies, as a prefetched one always
    was: the queue is only a wake-up signal and the maintenance sweep
    re-enqueues whatever PostgreSQL still shows as unprocessed or pending.

    Priority lanes (`api.workers.queue.LANES`): one round trip pops from the
    highest non-empty lane, many from the high lane, one from the others, so
    that whenever the receiver has room (it pulls the next task only then) a
    high task waiting is taken before the next lower one. And room is kept for
    the high lane: at most `lower_limit` default/low tasks run at once
    (`reserve_high`), so a worker full of sends or bulk work still starts a
    live conversation's task at once instead of after one of them ends.
    A broker made for some lanes only (`lanes`, `make_broker(lanes=...)`) reads
    just those; with a single lane, or without the high one, nothing is reserved.

    On a Redis Cluster (a ``redis+cluster://`` URL, `api.redis_clients`) the
    broker talks through a ``RedisCluster`` client instead of taskiq-redis' pool
    (whose ``ListQueueClusterBroker`` has neither lanes nor batches); the lanes
    share a hash tag, so the pop script and ``BRPOP`` reach one slot.
    """

    FETCH_BATCH = 32  # tasks one round trip pops from the high lane (one from the others)
    RECHECK_SECONDS = 0.05  # while the lower lanes are at their limit: how often a freed slot is noticed
    _POP_FIRST = """
for i, key in ipairs(KEYS) do
  local got = redis.call('RPOP', key, ARGV[i])
  if got then return {i, got} end
end
return false"""

    IDLE_WAIT_SECONDS = 1.0  # an idle BRPOP returns this often, so a draining worker notices at once

    def __init__(self, url: str, *args: Any, **kwargs: Any) -> None:
        self.cluster_url = url if is_cluster_url(url) else None
        self._cluster: Any = None
        if self.cluster_url is None:
            super().__init__(url, *args, **kwargs)
        else:  # taskiq-redis' pool speaks to one server: the cluster client is made in the loop that uses it
            AsyncBroker.__init__(self)
            self.connection_pool = None  # type: ignore[assignment]
            self.queue_name = kwargs.get("queue_name", QUEUE)
            self._cluster_kwargs = {k: v for k, v in kwargs.items() if k == "socket_timeout"}
        self.lanes: tuple[str, ...] = LANES  # the lanes read, highest first
        self.lower_limit: int | None = None  # default/low tasks running at once (None: no limit)
        self.lower_running = 0
        # set by `stop_taking`: listen() ends after handing over what it already popped
        self.draining = False

    def stop_taking(self) -> None:
        """Graceful shutdown: take no more tasks from Redis. Tasks already popped
        are still handed to the receiver (none is dropped); the receiver then
        waits for the running ones. A BRPOP is never cancelled mid-flight (a
        task Redis handed over in that instant would be lost): it times out
        every `IDLE_WAIT_SECONDS` and the loop looks at the flag."""
        self.draining = True

    def reserve_high(self, concurrency: int) -> int:
        """Keep a tenth of ``concurrency`` (at least one slot, if there are two) for the
        high lane; the number of slots the default and low lanes may fill (all of them
        when this broker does not read the high lane beside another)."""
        if HIGH not in self.lanes or len(self.lanes) == 1:
            self.lower_limit = None
            return concurrency
        reserved = max(1, concurrency // 10) if concurrency > 1 else 0
        self.lower_limit = concurrency - reserved
        return self.lower_limit

    def _cluster_client(self) -> Any:
        if self._cluster is None:
            self._cluster = redis_client(self.cluster_url, **self._cluster_kwargs)  # type: ignore[arg-type]
        return self._cluster

    async def kick(self, message: Any) -> None:
        if self.cluster_url is None:
            return await super().kick(message)
        await self._cluster_client().lpush(message.labels.get("queue_name") or self.queue_name, message.message)

    async def shutdown(self) -> None:
        if self.cluster_url is None:
            return await super().shutdown()
        await AsyncBroker.shutdown(self)
        if self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            await cluster.aclose()

    def _connection(self) -> Any:
        """The client ``listen`` pops through (a context manager)."""
        from redis.asyncio import Redis

        if self.cluster_url is None:
            return Redis(connection_pool=self.connection_pool)
        return contextlib.nullcontext(self._cluster_client())

    def _lower_room(self) -> bool:
        return self.lower_limit is None or self.lower_running < self.lower_limit

    def _lower_done(self) -> None:  # a default/low task ended (the receiver acknowledges it)
        self.lower_running = max(0, self.lower_running - 1)

    def _delivery(self, lane: str, message: bytes) -> bytes | AckableMessage:
        """The high lane's tasks as they are; a lower lane's counted until acknowledged."""
        if lane == HIGH:
            return message
        self.lower_running += 1
        return AckableMessage(data=message, ack=self._lower_done)

    async def listen(self) -> AsyncGenerator[bytes | AckableMessage, None]:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError

        # on a cluster a failover shows as other errors too (MOVED, CLUSTERDOWN) once retries are spent
        lost = RedisError if self.cluster_url is not None else RedisConnectionError

        lanes = list(self.lanes)
        self.lower_running = 0  # a restarted receiver: what the last one had in flight is over or lost
        while not self.draining:
            try:
                async with self._connection() as conn:
                    pop_first = conn.register_script(self._POP_FIRST)
                    while not self.draining:
                        keys = lanes if self._lower_room() else lanes[:1]
                        got = await pop_first(keys=keys, args=[self.FETCH_BATCH if k == HIGH else 1 for k in keys])
                        if got:
                            lane = keys[int(got[0]) - 1]
                            for message in got[1]:
                                yield self._delivery(lane, message)
                            continue
                        if len(keys) == len(lanes):  # block until any lane has a task (or a look at `draining`)
                            popped = await conn.brpop(keys, timeout=self.IDLE_WAIT_SECONDS)
                        else:  # only the high lane may run now: look again soon for a freed slot
                            popped = await conn.brpop(keys, timeout=self.RECHECK_SECONDS)
                        if popped is not None:
                            yield self._delivery(_text(popped[0]), popped[1])
            except lost as exc:
                log.warning("Redis connection error: %s", exc)
                await asyncio.sleep(0.1)


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


def make_broker(settings: Settings, *, open_runtime: bool = True, lanes: str = "all") -> ListQueueBroker:
    """A broker with the runtime's tasks, reading ``lanes`` (`WORKER_LANES`: ``all``,
    ``live`` or ``bulk``); with ``open_runtime`` its worker startup opens the `Runtime`
    (and shutdown closes it), with the background chores unless the broker is ``live``:
    a live worker only runs conversations and their replies."""
    if lanes not in WORKER_LANES:
        raise ValueError(f"lanes must be one of {', '.join(WORKER_LANES)}, not {lanes!r}")
    assert settings.redis_url, "the broker needs REDIS_URL"
    # BRPOP blocks until a task comes: no socket timeout (redis-py's default would
    # end an idle worker's listen with a TimeoutError)
    broker = BatchListQueueBroker(settings.redis_url, queue_name=QUEUE, socket_timeout=None,
                                  **resilient_connection_kwargs(settings.redis_url))
    broker.lanes = WORKER_LANES[lanes]
    broker.register_task(process_conversation_task, task_name=PROCESS_CONVERSATION)
    broker.register_task(send_outbox_task, task_name=SEND_OUTBOX)
    broker.register_task(deliver_conversations_task, task_name=DELIVER_CONVERSATIONS)
    broker.register_task(run_campaign_task, task_name=RUN_CAMPAIGN)
    broker.register_task(fetch_media_task, task_name=FETCH_MEDIA)
    if open_runtime:
        async def startup(state: TaskiqState) -> None:
            await start_context(settings, maintenance=lanes != "live")
            freeze_startup_heap()

        async def shutdown(state: TaskiqState) -> None:
            await stop_context()

        broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, startup)
        broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, shutdown)
    return broker


async def run_worker(broker: ListQueueBroker, *, concurrency: int = 100, stop: asyncio.Event | None = None,
                     grace_seconds: float | None = None) -> None:
    """Receive and run tasks until ``stop`` is set (graceful: no new task is
    taken, the running ones finish, for at most ``grace_seconds``; then the
    broker's shutdown stops the context, which waits for the sends under way)
    or until cancelled (abrupt: what runs is cut; the sweep recovers it)."""
    from concurrent.futures import ThreadPoolExecutor

    from taskiq.receiver import Receiver

    broker.is_worker_process = True
    if isinstance(broker, BatchListQueueBroker):
        broker.reserve_high(concurrency)
    await broker.startup()
    watcher = asyncio.create_task(_drain_on(stop, broker)) if stop is not None else None
    try:
        with ThreadPoolExecutor() as executor:
            while not getattr(broker, "draining", False):
                # a receiver whose listen ended on a broken connection is started again
                receiver = Receiver(broker=broker, executor=executor, run_startup=False,
                                    max_async_tasks=concurrency, wait_tasks_timeout=grace_seconds)
                try:
                    await receiver.listen(asyncio.Event())
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001
                    log.exception("task receiver stopped; restarting")
                    await asyncio.sleep(1.0)
        log.info("worker drained: no task running, none taken")
    finally:
        if watcher is not None:
            watcher.cancel()
        await broker.shutdown()


async def _drain_on(stop: asyncio.Event, broker: ListQueueBroker) -> None:
    await stop.wait()
    log.info("draining: taking no new task, finishing the running ones")
    if isinstance(broker, BatchListQueueBroker):
        broker.stop_taking()

"""The Taskiq broker and the runtime's tasks (plain async functions).

Task names are the constants of `api.workers.queue`, so anything holding a
Redis client can enqueue them. Each worker process opens one `Runtime`
(database pool, redis, Graph client) at startup and a maintenance loop
beside the receiver.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncGenerator

from taskiq import TaskiqEvents, TaskiqState
from taskiq_redis import ListQueueBroker

from api.gc_tuning import freeze_startup_heap
from api.redis_clients import resilient_connection_kwargs
from api.runtime_context import Runtime
from api.conversations.process import process_conversation
from api.outbox.background import BackgroundDelivery
from api.settings import Settings
from api.workers.queue import DELIVER_CONVERSATIONS, FETCH_MEDIA, LANES, PROCESS_CONVERSATION, QUEUE, SEND_OUTBOX

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


_CONTEXT: WorkerContext | None = None


def context() -> WorkerContext:
    if _CONTEXT is None:
        raise RuntimeError("the worker runtime is not started")
    return _CONTEXT


async def start_context(settings: Settings, *, maintenance: bool = True) -> WorkerContext:
    """Open this process's `Runtime`, sending from the process (`BackgroundDelivery`)."""
    global _CONTEXT
    from api.workers.maintenance import run_forever

    runtime = Runtime.open(settings, delivery=BackgroundDelivery)
    assert isinstance(runtime.delivery, BackgroundDelivery)
    ctx = WorkerContext(runtime, runtime.delivery)
    if maintenance:
        from api.events.webhooks import start as start_webhooks

        ctx.maintenance = asyncio.create_task(run_forever(runtime, ctx.stop))
        ctx.webhooks = start_webhooks(runtime.db, runtime.settings, ctx.stop)
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
    await ctx.delivery.drain(timeout=10)
    await ctx.runtime.close()


async def process_conversation_task(conversation_id: str) -> int:
    return await process_conversation(context().runtime, conversation_id)


async def send_outbox_task(message_ids: list[str]) -> None:
    await context().sender.send_messages(message_ids)


async def deliver_conversations_task(conversation_ids: list[str]) -> None:
    await context().sender.deliver_conversations(conversation_ids)


async def fetch_media_task(message_ids: list[str]) -> None:
    from api.media import fetch_inbound_media

    runtime = context().runtime
    await fetch_inbound_media(runtime.db, runtime.settings, message_ids)


class BatchListQueueBroker(ListQueueBroker):
    """`ListQueueBroker` whose worker takes up to `FETCH_BATCH` tasks per Redis round
    trip (``RPOP key count``), blocking (``BRPOP``) only when the list is empty.

    The stock receiver pops one task per round trip; under load that loop, not
    the tasks, capped a worker's throughput and let the list grow. Tasks popped
    but not yet started are lost if the worker dies, as a prefetched one always
    was: the queue is only a wake-up signal and the maintenance sweep
    re-enqueues whatever PostgreSQL still shows as unprocessed or pending.
    """

    FETCH_BATCH = 32
    # Priority lanes (`api.workers.queue.LANES`): one round trip pops from the
    # highest non-empty lane, many from the high lane, one from the others, so
    # that whenever the receiver has room (it pulls the next task only then)
    # a high task waiting is taken before the next lower one.
    LANE_BATCH = (FETCH_BATCH, 1, 1)
    _POP_FIRST = """
for i, key in ipairs(KEYS) do
  local got = redis.call('RPOP', key, ARGV[i])
  if got then return got end
end
return false"""

    async def listen(self) -> AsyncGenerator[bytes, None]:
        from redis.asyncio import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        lanes = list(LANES)
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as conn:
                    pop_first = conn.register_script(self._POP_FIRST)
                    while True:
                        batch = await pop_first(keys=lanes, args=list(self.LANE_BATCH))
                        if batch:
                            for message in batch:
                                yield message
                            continue
                        popped = await conn.brpop(lanes)  # the first non-empty lane, in order
                        if popped is not None:
                            yield popped[1]
            except RedisConnectionError as exc:
                log.warning("Redis connection error: %s", exc)
                await asyncio.sleep(0.1)


def make_broker(settings: Settings, *, open_runtime: bool = True) -> ListQueueBroker:
    """A broker with the runtime's tasks; with ``open_runtime`` its worker
    startup opens the `Runtime` (and shutdown closes it)."""
    assert settings.redis_url, "the broker needs REDIS_URL"
    # BRPOP blocks until a task comes: no socket timeout (redis-py's default would
    # end an idle worker's listen with a TimeoutError)
    broker = BatchListQueueBroker(settings.redis_url, queue_name=QUEUE, socket_timeout=None,
                                  **resilient_connection_kwargs())
    broker.register_task(process_conversation_task, task_name=PROCESS_CONVERSATION)
    broker.register_task(send_outbox_task, task_name=SEND_OUTBOX)
    broker.register_task(deliver_conversations_task, task_name=DELIVER_CONVERSATIONS)
    broker.register_task(fetch_media_task, task_name=FETCH_MEDIA)
    if open_runtime:
        async def startup(state: TaskiqState) -> None:
            await start_context(settings)
            freeze_startup_heap()

        async def shutdown(state: TaskiqState) -> None:
            await stop_context()

        broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, startup)
        broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, shutdown)
    return broker


async def run_worker(broker: ListQueueBroker, *, concurrency: int = 100) -> None:
    """Receive and run tasks until cancelled (the in-process worker of `pytake serve`)."""
    from taskiq.api import run_receiver_task

    broker.is_worker_process = True
    await broker.startup()
    try:
        while True:  # a receiver that stops on a broken connection is started again
            try:
                await run_receiver_task(broker, max_async_tasks=concurrency, run_startup=False)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("task receiver stopped; restarting")
            await asyncio.sleep(1.0)
    finally:
        await broker.shutdown()

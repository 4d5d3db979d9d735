"""Task lanes: a worker takes a waiting live-conversation task before any bulk work."""

from __future__ import annotations

import asyncio

import pytest

from api.workers.queue import DEFAULT, HIGH, LANES, LOW, PROCESS_CONVERSATION, enqueue, enqueue_conversations
from api.workers.tasks import make_broker, run_worker


async def until(predicate, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_tasks_land_on_their_names_lane(redis):
    await redis.delete(*LANES)
    await enqueue_conversations(redis, ["c1"])
    await enqueue(redis, "pytake.send_outbox", ["m1"])
    await enqueue(redis, "pytake.send_outbox", ["m2"], lane=LOW)
    assert [await redis.llen(lane) for lane in (HIGH, DEFAULT, LOW)] == [1, 1, 1]


async def test_a_full_low_lane_does_not_delay_a_live_conversation(redis, settings):
    await redis.delete(*LANES)
    order: list[str] = []
    gate = asyncio.Event()

    async def job(name: str) -> None:
        order.append(name)
        await gate.wait()

    async def conversation(conversation_id: str) -> None:  # stands in for the processor
        order.append(f"reply {conversation_id}")

    broker = make_broker(settings, open_runtime=False)
    broker.register_task(job, task_name="test.job")
    broker.register_task(conversation, task_name=PROCESS_CONVERSATION)
    for k in range(200):
        await enqueue(redis, "test.job", f"bulk {k}", lane=LOW)
    for k in range(20):
        await enqueue(redis, "test.job", f"send {k}", lane=DEFAULT)
    worker = asyncio.create_task(run_worker(broker, concurrency=1))
    try:
        await until(lambda: order)  # the worker is busy with its first task, the rest wait
        assert order == ["send 0"]  # sends before bulk work
        await enqueue_conversations(redis, ["c1"])  # a customer writes
        gate.set()
        await until(lambda: "reply c1" in order)
        # only what the worker had already taken ran before the reply: none of the waiting sends or bulk
        assert order.index("reply c1") <= 2
        assert not any(name.startswith("bulk") for name in order[:order.index("reply c1")])
        await until(lambda: len(order) == 221)
        assert order[-200:] == [f"bulk {k}" for k in range(200)]
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await redis.delete(*LANES)


async def test_a_worker_full_of_sends_still_starts_a_live_conversation_at_once(redis, settings):
    """Every slot a worker gives the lower lanes is busy with a send that does not end;
    the customer's task starts anyway (a slot is kept for the high lane), and no
    further send is started in its place."""
    await redis.delete(*LANES)
    started: list[str] = []
    gate = asyncio.Event()
    replied = asyncio.Event()

    async def job(name: str) -> None:
        started.append(name)
        await gate.wait()

    async def conversation(conversation_id: str) -> None:
        started.append(f"reply {conversation_id}")
        replied.set()

    broker = make_broker(settings, open_runtime=False)
    broker.register_task(job, task_name="test.job")
    broker.register_task(conversation, task_name=PROCESS_CONVERSATION)
    for k in range(30):
        await enqueue(redis, "test.job", f"send {k}", lane=DEFAULT)
        await enqueue(redis, "test.job", f"bulk {k}", lane=LOW)
    worker = asyncio.create_task(run_worker(broker, concurrency=4))
    try:
        await until(lambda: len(started) == 3)  # 4 slots, one kept for the high lane
        await enqueue_conversations(redis, ["c1"])  # a customer writes; no send has ended
        await asyncio.wait_for(replied.wait(), 30)
        assert started == ["send 0", "send 1", "send 2", "reply c1"]
        assert not gate.is_set() and broker.lower_running == 3
        gate.set()
        await until(lambda: len(started) == 61)
        assert broker.lower_running == 0
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await redis.delete(*LANES)


async def test_replies_are_kicked_on_the_high_lane_and_bulk_sends_on_the_low(redis):
    from api.outbox import kick_sender

    await redis.delete(*LANES)
    await kick_sender(redis, ["reply"])
    await kick_sender(redis, ["campaign"], lane=LOW)
    assert [await redis.llen(lane) for lane in (HIGH, DEFAULT, LOW)] == [1, 0, 1]


async def test_a_live_worker_takes_only_conversations_and_replies_and_a_bulk_worker_only_bulk_work(redis, settings):
    """`pytake worker --lanes live` / `--lanes bulk`: each leaves the other's tasks queued."""
    await redis.delete(*LANES)
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    async def conversation(conversation_id: str) -> None:
        ran.append(f"reply {conversation_id}")

    def broker_for(lanes: str):
        broker = make_broker(settings, open_runtime=False, lanes=lanes)
        broker.register_task(job, task_name="test.job")
        broker.register_task(conversation, task_name=PROCESS_CONVERSATION)
        return broker

    await enqueue(redis, "test.job", "campaign", lane=LOW)
    await enqueue(redis, "test.job", "send", lane=DEFAULT)
    await enqueue_conversations(redis, ["c1"])
    live = asyncio.create_task(run_worker(broker_for("live"), concurrency=4))
    try:
        await until(lambda: {"reply c1", "send"} <= set(ran))
        # a task queued after those: the worker has looked at its lanes again since, and left the bulk one
        await enqueue_conversations(redis, ["c2"])
        await until(lambda: "reply c2" in ran)
        assert "campaign" not in ran and await redis.llen(LOW) == 1
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)

    await enqueue_conversations(redis, ["c3"])  # nobody takes the live lanes now
    await enqueue(redis, "test.job", "send 2", lane=DEFAULT)
    bulk = asyncio.create_task(run_worker(broker_for("bulk"), concurrency=4))
    try:
        await until(lambda: "campaign" in ran)
        await enqueue(redis, "test.job", "campaign 2", lane=LOW)
        await until(lambda: "campaign 2" in ran)
        assert "reply c3" not in ran and "send 2" not in ran
        assert [await redis.llen(lane) for lane in (HIGH, DEFAULT, LOW)] == [1, 1, 0]
    finally:
        bulk.cancel()
        await asyncio.gather(bulk, return_exceptions=True)
        await redis.delete(*LANES)


async def test_a_live_worker_runs_no_background_chores_and_a_bulk_worker_runs_them(redis, settings):
    from api.workers.tasks import context

    for lanes, chores in (("live", False), ("bulk", True)):
        worker = asyncio.create_task(run_worker(make_broker(settings, lanes=lanes), concurrency=4))
        try:
            ctx, deadline = None, asyncio.get_running_loop().time() + 60
            while ctx is None:
                assert not worker.done(), worker
                assert asyncio.get_running_loop().time() < deadline, "the worker did not start"
                try:
                    ctx = context()
                except RuntimeError:  # not started yet
                    await asyncio.sleep(0.01)
            running = [ctx.maintenance, ctx.webhooks, ctx.live, ctx.logs]
            assert [task is not None for task in running] == [chores] * 4, lanes
        finally:
            worker.cancel()
            # stopping ends every chore (a webhooks wake-up listener once kept a worker from ever stopping)
            await asyncio.wait_for(asyncio.gather(worker, return_exceptions=True), 60)
            await until(lambda: _stopped(context))


def _stopped(context) -> bool:
    try:
        context()
    except RuntimeError:
        return True
    return False


def test_a_worker_is_made_for_known_lanes_only(settings):
    with pytest.raises(ValueError, match="all, live, bulk"):
        make_broker(settings, open_runtime=False, lanes="fast")

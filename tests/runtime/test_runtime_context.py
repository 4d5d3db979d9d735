"""How-to-send is passed into the `Runtime` when it is built: a worker's runtime sends a
step's replies and read receipts from its own process; one built without a `Delivery`
queues a sender task for them instead."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from api.outbox import BackgroundDelivery
from api.runtime_context import Runtime
from api.workers.queue import HIGH, SEND_OUTBOX
from tests.runtime.conftest import Local
from tests.runtime.test_read_receipts import inbound_wamids, receipts_on


async def _queued_sends(redis) -> list[list[str]]:
    tasks = [orjson.loads(raw) for raw in await redis.lrange(HIGH, 0, -1)]  # a live reply: the high lane
    return [t["args"][0] for t in tasks if t["task_name"] == SEND_OUTBOX]


async def _until(predicate, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_runtime_built_with_background_delivery_sends_from_its_process(
        local, add, flows, query, db, redis, settings, seeded):
    from api.whatsapp.graph_client import GraphClient

    await add("eco", flows["echo"])
    await receipts_on(db, seeded)
    await redis.delete(HIGH)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=local.sandbox), base_url="http://sandbox")
    rt = Runtime.build(db, redis, settings, graph=GraphClient("http://sandbox", "v21.0", client=http),
                       delivery=BackgroundDelivery)
    try:
        assert isinstance(rt.delivery, BackgroundDelivery) and rt.delivery.sender.rt is rt
        (conversation,) = (await local.receive("5511900008700", "oi")).conversations
        await Local(rt, local.sandbox, db, seeded).process(conversation)
        await _until(lambda: local.sandbox.state.inboxes.get("5511900008700"))
        await _until(lambda: local.sandbox.state.read_receipts)
        await rt.delivery.drain(timeout=10)
    finally:
        await http.aclose()
        await rt.close()
    assert await _queued_sends(redis) == []  # no queue round trip
    assert local.sandbox.state.read_receipts == await inbound_wamids(query)
    statuses = [r["status"] for r in await query("SELECT status FROM messages WHERE direction = 'outbound'")]
    assert statuses and set(statuses) == {"sent"}


async def test_a_runtime_without_delivery_queues_a_sender_task(local, add, flows, query, redis):
    await add("eco", flows["echo"])
    await redis.delete(HIGH)
    assert local.rt.delivery is None and local.rt.deliver is None and local.rt.mark_read is None
    await local.say("5511900008800", "oi")
    outbound = [str(r["id"]) for r in await query("SELECT id FROM messages WHERE direction = 'outbound'")]
    assert outbound and sorted(sum(await _queued_sends(redis), [])) == sorted(outbound)
    assert local.sandbox.state.inboxes.get("5511900008800") in (None, [])  # nothing sent yet

"""Leases, send limits, the maintenance chores' scripts, presence heartbeats and typing answer the
same, and leave the same state, when their script runs twice in a row (a retry after a lost reply:
tests/redis_retry.py) as when it runs once."""

from __future__ import annotations

import dataclasses
import time
import types
import uuid
from datetime import timedelta
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from api.live.audience import Viewer
from api.live.presence import beat, proc_key
from api.live.typing_indicator import typing
from api.outbox.locks import Lease, conversation_lease, sender_lease
from api.outbox.send_rate_limit import Limit, SendRateLimiter
from api.workers import maintenance
from api.workers.queue import QUEUE
from tests.redis_retry import scripts_run_twice

# per hour: however slowly the calls follow each other here, no new send comes due between them
BURST_OF_3 = Limit(rate=10, per_seconds=3600, burst=3)


@pytest.fixture
async def retrying(redis_url) -> AsyncIterator[aioredis.Redis]:  # noqa: ANN001
    client = scripts_run_twice(aioredis.from_url(redis_url))
    try:
        yield client
    finally:
        await client.aclose()


async def _state(redis, lease) -> dict:  # noqa: ANN001
    return {"held": await redis.exists(lease.key), "fence": await redis.get(lease.key + ":fence"),
            "missed": await redis.exists(lease.key + ":missed")}


async def test_a_lease_acquired_and_released_twice_answers_as_once(redis, retrying) -> None:  # noqa: ANN001
    lease, once = conversation_lease(retrying, uuid.uuid4()), conversation_lease(redis, uuid.uuid4())
    assert await lease.acquire() is True and await once.acquire() is True  # not "taken" (by itself)
    assert lease.token == once.token == 1
    assert await _state(redis, lease) == await _state(redis, once) == {"held": 1, "fence": b"1", "missed": 0}
    assert 0 < await redis.pttl(lease.key) <= lease.ttl_ms

    await lease.release()
    await once.release()
    assert lease.missed is once.missed is False  # nobody came: no wake-up owed
    assert await _state(redis, lease) == await _state(redis, once) == {"held": 0, "fence": b"1", "missed": 0}


async def test_a_release_run_twice_still_reports_who_bounced_off(redis, retrying) -> None:  # noqa: ANN001
    lease = conversation_lease(retrying, uuid.uuid4())
    assert await lease.acquire()
    assert not await Lease(redis, lease.key).acquire()  # bounces, leaves its mark
    await lease.release()
    assert lease.missed is True
    assert not await redis.exists(lease.key) and not await redis.exists(lease.key + ":missed")


async def test_a_lease_taken_by_another_stays_refused_when_asked_twice(redis, retrying) -> None:  # noqa: ANN001
    holder = conversation_lease(redis, uuid.uuid4())
    assert await holder.acquire()
    assert await Lease(retrying, holder.key).acquire() is False
    assert await redis.get(holder.key + ":fence") == b"1"
    await holder.release()
    assert holder.missed is True


async def test_sends_taken_twice_are_taken_once(redis, retrying) -> None:  # noqa: ANN001
    assert await SendRateLimiter(retrying).try_acquire_many("pn-r", "r", BURST_OF_3, None, n=2) == (2, 0.0)
    # the burst of 3 less the 2 taken: one left
    assert (await SendRateLimiter(redis).try_acquire_many("pn-r", "r", BURST_OF_3, None, n=3))[0] == 1


async def test_a_sender_lease_and_its_sends_taken_twice_are_taken_once(redis, retrying) -> None:  # noqa: ANN001
    lease = sender_lease(retrying, uuid.uuid4())
    assert await SendRateLimiter(retrying).lease_and_take(lease, "pn-l", "r", BURST_OF_3, None, n=2) == 2
    assert lease.token == 1
    assert await redis.get(lease.key + ":fence") == b"1" and not await redis.exists(lease.key + ":missed")
    assert (await SendRateLimiter(redis).try_acquire_many("pn-l", "r", BURST_OF_3, None, n=3))[0] == 1
    await lease.release()
    assert lease.missed is False and not await redis.exists(lease.key)


async def test_due_members_popped_twice_are_handed_over_not_dropped(redis, retrying) -> None:  # noqa: ANN001
    key = f"runtime:timeouts:{uuid.uuid4().hex}"
    await redis.zadd(key, {"due-1": 1, "due-2": 2, "later": time.time() + 3600})
    rt = types.SimpleNamespace(redis=retrying)  # pop_due reads nothing else of the runtime
    assert await maintenance.pop_due(rt, key) == ["due-1", "due-2"]  # not the (empty) second take
    assert await redis.zrange(key, 0, -1) == [b"later"]
    assert await maintenance.pop_due(rt, key) == []


async def test_the_sweep_run_twice_wakes_a_lost_message_once_not_never(local, redis, retrying) -> None:  # noqa: ANN001
    (conversation,) = (await local.receive("5511900007403", "oi")).conversations
    await redis.delete(QUEUE)  # the wake-up was lost
    await maintenance.sweep(dataclasses.replace(local.rt, redis=retrying), timedelta(0), full=False)
    queued = [t for t in await redis.lrange(QUEUE, 0, -1) if str(conversation).encode() in t]
    assert len(queued) == 1


async def test_a_heartbeat_sent_twice_after_it_expired_still_says_it_had(redis, retrying) -> None:  # noqa: ANN001
    process = uuid.uuid4().hex
    assert await beat(retrying, process, 5.0) is False  # gone (swept?): the process registers its sockets again
    assert await beat(retrying, process, 5.0) is True
    assert 0 < await redis.pttl(proc_key(process)) <= 5000


async def test_typing_renewed_by_a_script_run_twice_is_published(redis, retrying) -> None:  # noqa: ANN001
    viewer = Viewer(uuid.uuid4(), uuid.uuid4(), "agent", frozenset(), "Ana")
    conversation = uuid.uuid4()
    row = {"department_id": None, "assigned_to": viewer.user_id}
    assert await typing(retrying, viewer, conversation, row) is True
    assert await typing(retrying, viewer, conversation, row) is False  # still fresh: not published again

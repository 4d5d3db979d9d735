"""Leases and send limits answer the same, and leave the same state, when their script runs
twice in a row (a retry after a lost reply: tests/redis_retry.py) as when it runs once."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from api.outbox.locks import Lease, conversation_lease, sender_lease
from api.outbox.send_rate_limit import Limit, SendRateLimiter
from tests.redis_retry import scripts_run_twice

# per hour: however slowly the calls follow each other here, no new send comes due between them
BURST_OF_3 = Limit(rate=10, per_seconds=3600, burst=3)


async def _state(redis, lease) -> dict:  # noqa: ANN001
    return {"held": await redis.exists(lease.key), "fence": await redis.get(lease.key + ":fence"),
            "missed": await redis.exists(lease.key + ":missed")}


async def test_a_lease_acquired_and_released_twice_answers_as_once(redis, redis_url) -> None:  # noqa: ANN001
    retrying = scripts_run_twice(aioredis.from_url(redis_url))
    try:
        lease, once = conversation_lease(retrying, uuid.uuid4()), conversation_lease(redis, uuid.uuid4())
        assert await lease.acquire() is True and await once.acquire() is True  # not "taken" (by itself)
        assert lease.token == once.token == 1
        assert await _state(redis, lease) == await _state(redis, once) == {"held": 1, "fence": b"1", "missed": 0}
        assert 0 < await redis.pttl(lease.key) <= lease.ttl_ms

        await lease.release()
        await once.release()
        assert lease.missed is once.missed is False  # nobody came: no wake-up owed
        assert await _state(redis, lease) == await _state(redis, once) == {"held": 0, "fence": b"1", "missed": 0}
    finally:
        await retrying.aclose()


async def test_a_release_run_twice_still_reports_who_bounced_off(redis, redis_url) -> None:  # noqa: ANN001
    retrying = scripts_run_twice(aioredis.from_url(redis_url))
    try:
        lease = conversation_lease(retrying, uuid.uuid4())
        assert await lease.acquire()
        assert not await Lease(redis, lease.key).acquire()  # bounces, leaves its mark
        await lease.release()
        assert lease.missed is True
        assert not await redis.exists(lease.key) and not await redis.exists(lease.key + ":missed")
    finally:
        await retrying.aclose()


async def test_a_lease_taken_by_another_stays_refused_when_asked_twice(redis, redis_url) -> None:  # noqa: ANN001
    retrying = scripts_run_twice(aioredis.from_url(redis_url))
    try:
        holder = conversation_lease(redis, uuid.uuid4())
        assert await holder.acquire()
        assert await Lease(retrying, holder.key).acquire() is False
        assert await redis.get(holder.key + ":fence") == b"1"
        await holder.release()
        assert holder.missed is True
    finally:
        await retrying.aclose()


async def test_sends_taken_twice_are_taken_once(redis, redis_url) -> None:  # noqa: ANN001
    retrying = scripts_run_twice(aioredis.from_url(redis_url))
    try:
        assert await SendRateLimiter(retrying).try_acquire_many("pn-r", "r", BURST_OF_3, None, n=2) == (2, 0.0)
        # the burst of 3 less the 2 taken: one left
        assert (await SendRateLimiter(redis).try_acquire_many("pn-r", "r", BURST_OF_3, None, n=3))[0] == 1
    finally:
        await retrying.aclose()


async def test_a_sender_lease_and_its_sends_taken_twice_are_taken_once(redis, redis_url) -> None:  # noqa: ANN001
    retrying = scripts_run_twice(aioredis.from_url(redis_url))
    try:
        lease = sender_lease(retrying, uuid.uuid4())
        assert await SendRateLimiter(retrying).lease_and_take(lease, "pn-l", "r", BURST_OF_3, None, n=2) == 2
        assert lease.token == 1
        assert await redis.get(lease.key + ":fence") == b"1" and not await redis.exists(lease.key + ":missed")
        assert (await SendRateLimiter(redis).try_acquire_many("pn-l", "r", BURST_OF_3, None, n=3))[0] == 1
        await lease.release()
        assert lease.missed is False and not await redis.exists(lease.key)
    finally:
        await retrying.aclose()

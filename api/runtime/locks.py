"""A Redis lease per conversation: one worker at a time runs a conversation.

The lease holds a fencing token (a per-key counter) and expires by itself if
its worker dies; a live holder renews it in the background. Release is a
compare-and-delete, so a worker whose lease expired can never free the lease
of the worker that took over. Correctness does not rest on the lease alone:
the final write checks, under a row lock, that the inbound message is still
unprocessed (see processor.py), so even an expired lease cannot apply a run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

log = logging.getLogger("pytake.runtime.locks")

# A caller that finds the lease taken leaves a mark (KEYS[3]) for the holder:
# work may have arrived that only the holder will now look at.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[3], 1, 'PX', 3600000)
  return 0
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
"""
# 1: released, nobody came meanwhile; 2: released, someone bounced off it; 0: not ours anymore
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1 + redis.call('DEL', KEYS[2])
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class Lease:
    """``async with Lease(redis, key) as lease: if lease.token: ...``"""

    def __init__(self, redis: aioredis.Redis, key: str, ttl_ms: int = 30_000) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = ttl_ms
        self.token: int | None = None
        self._renewer: asyncio.Task | None = None
        self.lost = False
        # after release: False only when the lease was ours to the end and nobody
        # tried to take it meanwhile, so no wake-up was absorbed by it
        self.missed = True

    async def acquire(self) -> bool:
        token = await self.redis.eval(_ACQUIRE, 3, self.key, self.key + ":fence", self.key + ":missed",
                                      self.ttl_ms)
        self.token = int(token) or None
        if self.token:
            self._renewer = asyncio.create_task(self._renew())
        return self.token is not None

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer
            self._renewer = None
        if self.token:
            released = await self.redis.eval(_RELEASE, 2, self.key, self.key + ":missed", str(self.token))
            self.missed = int(released) != 1
            self.token = None

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            ok = await self.redis.eval(_RENEW, 1, self.key, str(self.token), self.ttl_ms)
            if not ok:
                self.lost = True
                log.warning("lease %s lost (expired or taken over)", self.key)
                return

    async def __aenter__(self) -> "Lease":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


def conversation_lease(redis: aioredis.Redis, conversation_id: object, ttl_ms: int = 30_000) -> Lease:
    return Lease(redis, f"lock:conversation:{conversation_id}", ttl_ms)


def sender_lease(redis: aioredis.Redis, conversation_id: object, ttl_ms: int = 30_000) -> Lease:
    return Lease(redis, f"lock:sender:{conversation_id}", ttl_ms)

"""A Redis lease per conversation: one worker at a time runs a conversation.

The lease holds a fencing token (a per-key counter) and expires by itself if
its worker dies: it is short (``Settings.runtime_lease_seconds``, 4 s) and a
live holder renews it in the background every third of it (a heartbeat), so
a killed worker's conversations are free again within seconds and the
maintenance sweep hands them to another worker. A renewal that fails (Redis
restarting) is retried until the lease would have expired; then the lease is
``lost``. Release is a compare-and-delete, so a worker whose lease expired can
never free the lease of the worker that took over. Correctness does not rest
on the lease alone: the final write checks, in the same statement, that the
inbound message is still unprocessed and the conversation's state revision
unchanged (see processor.py `_apply`), so a worker that lost its lease (an
event loop stalled longer than the lease) cannot apply a run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

log = logging.getLogger("pytake.runtime.locks")

DEFAULT_TTL_MS = 4_000  # api.settings.Settings.runtime_lease_seconds

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


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


_SHAS = {script: _sha(script) for script in (_ACQUIRE, _RELEASE, _RENEW)}


async def _eval(redis: aioredis.Redis, script: str, numkeys: int, *args: object) -> object:
    """EVALSHA (Redis keeps the script; only its hash travels), EVAL the first time."""
    try:
        return await redis.evalsha(_SHAS[script], numkeys, *args)
    except NoScriptError:
        return await redis.eval(script, numkeys, *args)


class Lease:
    """``async with Lease(redis, key) as lease: if lease.token: ...``"""

    def __init__(self, redis: aioredis.Redis, key: str, ttl_ms: int = DEFAULT_TTL_MS) -> None:
        self.redis = redis
        # the lease, its ``:fence`` and its ``:missed`` go in one script: one hash
        # tag (Redis Cluster), the id's in `conversation_lease`'s ``lock:conversation:{id}``
        self.key = key if "{" in key else f"{{{key}}}"
        self.ttl_ms = ttl_ms
        self.token: int | None = None
        # renewal: a timer every ttl/3 (no task while the lease is short-lived, as most are)
        self._timer: asyncio.TimerHandle | None = None
        self._renewer: asyncio.Task | None = None
        self._expires = 0.0  # monotonic time the lease expires unless renewed
        self.lost = False
        # after release: False only when the lease was ours to the end and nobody
        # tried to take it meanwhile, so no wake-up was absorbed by it
        self.missed = True

    async def acquire(self) -> bool:
        token = await _eval(self.redis, _ACQUIRE, 3, self.key, self.key + ":fence", self.key + ":missed",
                            self.ttl_ms)
        return self.adopt(int(token))

    def adopt(self, token: int) -> bool:
        """Take a token an acquire script returned (0: the lease was taken)."""
        self.token = token or None
        if self.token:
            self._expires = time.monotonic() + self.ttl_ms / 1000
            self._arm()
        return self.token is not None

    async def release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer
            self._renewer = None
        if self.token:
            released = await _eval(self.redis, _RELEASE, 2, self.key, self.key + ":missed", str(self.token))
            self.missed = int(released) != 1
            self.token = None

    def _arm(self, delay: float | None = None) -> None:
        delay = self.ttl_ms / 3000 if delay is None else delay
        self._timer = asyncio.get_running_loop().call_later(delay, self._start_renewal)

    def _start_renewal(self) -> None:
        self._timer = None
        self._renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        asked = time.monotonic()
        try:
            ok = await _eval(self.redis, _RENEW, 1, self.key, str(self.token), self.ttl_ms)
        except (RedisError, OSError) as exc:
            self._renewer = None
            if time.monotonic() >= self._expires:
                self.lost = True
                log.warning("lease %s lost: it could not be renewed in time (%s)", self.key, exc)
            else:  # Redis restarting: try again soon, while the lease still holds
                self._arm(min(self.ttl_ms / 6000, max(0.0, self._expires - time.monotonic())))
            return
        self._renewer = None
        if not ok:
            self.lost = True
            log.warning("lease %s lost (expired or taken over)", self.key)
            return
        self._expires = asked + self.ttl_ms / 1000
        self._arm()

    async def __aenter__(self) -> "Lease":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


CONVERSATION_LEASE = "lock:conversation:"
SENDER_LEASE = "lock:sender:"


def lease_key(prefix: str, conversation_id: object) -> str:
    """``lock:conversation:{id}`` / ``lock:sender:{id}``: the id is the hash tag."""
    return f"{prefix}{{{conversation_id}}}"


def conversation_lease(redis: aioredis.Redis, conversation_id: object, ttl_ms: int = DEFAULT_TTL_MS) -> Lease:
    return Lease(redis, lease_key(CONVERSATION_LEASE, conversation_id), ttl_ms)


def sender_lease(redis: aioredis.Redis, conversation_id: object, ttl_ms: int = DEFAULT_TTL_MS) -> Lease:
    return Lease(redis, lease_key(SENDER_LEASE, conversation_id), ttl_ms)


def lease_ms(settings: object) -> int:
    """The lease TTL the settings ask for (``runtime_lease_seconds``), in ms."""
    return int(float(getattr(settings, "runtime_lease_seconds", DEFAULT_TTL_MS / 1000)) * 1000)

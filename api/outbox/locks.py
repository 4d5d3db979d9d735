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
import uuid

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

log = logging.getLogger("pytake.runtime.locks")

DEFAULT_TTL_MS = 4_000  # api.settings.Settings.runtime_lease_seconds

# Every script here is safe to run twice: redis-py (and `ResilientCluster`) sends a
# command again after a connection error, also when the first attempt had already run.
# The lease's value is ``<holder>:<token>``, ``holder`` a random id per `Lease`: an
# acquire that finds its own holder there is that retry and answers the same token
# (the lease's expiry restarted, as a first run would set it).
#
# A caller that finds the lease taken leaves a mark (KEYS[3]) for the holder:
# work may have arrived that only the holder will now look at.
_ACQUIRE_LUA = """
local held = redis.call('GET', KEYS[1])
if held then
  local sep = string.find(held, ':', 1, true)
  if sep and string.sub(held, 1, sep - 1) == ARGV[2] then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    token = tonumber(string.sub(held, sep + 1))
  else
    redis.call('SET', KEYS[3], 1, 'PX', 3600000)
    token = 0
  end
else
  token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[2] .. ':' .. token, 'PX', ARGV[1])
end
"""
_ACQUIRE = "local token\n" + _ACQUIRE_LUA + "return token\n"
# 1: released, nobody came meanwhile; 2: released, someone bounced off it; 0: not ours anymore.
# The answer stays in KEYS[3] for `RETRY_MEMO_MS`: a release run again answers it again
# (a 0 there would make the caller look for work the first run said nobody left).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  local released = 1 + redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. released, 'PX', ARGV[2])
  return released
end
local memo = redis.call('GET', KEYS[3])
if memo and string.sub(memo, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
  return tonumber(string.sub(memo, #ARGV[1] + 2))
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# how long a script's answer is kept for a retry of it: longer than redis-py's retries
# and `ResilientCluster`'s (api/redis_clients.py: CLUSTER_RETRY_SECONDS) take together
RETRY_MEMO_MS = 60_000


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
        # who holds the lease in Redis (``<holder>:<token>``): a retried acquire knows itself
        self.holder = uuid.uuid4().hex
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
                            self.ttl_ms, self.holder)
        return self.adopt(int(token))

    @property
    def value(self) -> str:
        """The lease's value in Redis while it is ours."""
        return f"{self.holder}:{self.token}"

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
            released = await _eval(self.redis, _RELEASE, 3, self.key, self.key + ":missed",
                                   self.key + ":released", self.value, RETRY_MEMO_MS)
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
            ok = await _eval(self.redis, _RENEW, 1, self.key, self.value, self.ttl_ms)
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

"""Send-rate limits held in Redis, so they hold across every worker.

Two GCRA buckets (the "generic cell rate algorithm" form of a token bucket:
one key per bucket holding its theoretical arrival time) are checked and
taken together in one Lua script, using Redis' clock so all workers agree:

- per number: ``rate`` messages/second (default 80, Meta's Cloud API
  throughput), ``burst`` messages may go back to back;
- per (number, recipient) pair: Meta's pair limit, about one message per 6
  seconds with bursts allowed; we pace instead of letting Meta answer 131056.

`acquire` waits until both allow a send; it never errors because of a limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local w = tat - tolerance - now
  if w > wait then wait = w end
  tats[i] = tat + interval
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1000
  redis.call('SET', KEYS[i], tats[i], 'PX', ttl)
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """``rate`` sends per ``per_seconds``; ``burst`` sends may go without spacing."""

    rate: float
    per_seconds: float = 1.0
    burst: int = 1

    @property
    def interval_us(self) -> int:
        return max(1, int(self.per_seconds * 1_000_000 / self.rate))

    @property
    def tolerance_us(self) -> int:
        return self.interval_us * max(0, self.burst - 1)


PAIR_LIMIT = Limit(rate=1, per_seconds=6, burst=45)


class SendRateLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_GCRA)

    async def try_acquire(self, phone_number_id: str, recipient: str | None,
                          number_limit: Limit, pair_limit: Limit | None = PAIR_LIMIT) -> float:
        """Take one send if both buckets allow it now: 0.0; else the seconds to wait."""
        keys = [f"ratelimit:wa:number:{phone_number_id}"]
        args: list[int] = [number_limit.interval_us, number_limit.tolerance_us]
        if recipient and pair_limit is not None:
            keys.append(f"ratelimit:wa:pair:{phone_number_id}:{recipient}")
            args += [pair_limit.interval_us, pair_limit.tolerance_us]
        wait_us = int(await self._script(keys=keys, args=args))
        return wait_us / 1_000_000

    async def acquire(self, phone_number_id: str, recipient: str | None,
                      number_limit: Limit, pair_limit: Limit | None = PAIR_LIMIT) -> None:
        """Wait until one send is allowed for this number and recipient, then take it."""
        while True:
            wait = await self.try_acquire(phone_number_id, recipient, number_limit, pair_limit)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

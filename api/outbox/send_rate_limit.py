"""Send-rate limits held in Redis, so they hold across every worker.

Two GCRA buckets (the "generic cell rate algorithm" form of a token bucket:
one key per bucket holding its theoretical arrival time) are checked and
taken together in one Lua script, using Redis' clock so all workers agree:

- per number: ``rate`` messages/second (default 80, Meta's Cloud API
  throughput), ``burst`` messages may go back to back;
- per (number, recipient) pair: Meta's pair limit, about one message per 6
  seconds with bursts allowed; we pace instead of letting Meta answer 131056.

Keys ``ratelimit:wa:number:{phone_number_id}`` and
``ratelimit:wa:pair:{phone_number_id}:<wa_id>``: the number is the hash tag
(one Redis Cluster slot for the script). A grant is also kept a minute in
``ratelimit:wa:take:{phone_number_id}:<take id>`` (a fresh id per take), so the
script run again by a retry after a lost reply answers the same and takes nothing more. `lease_and_take` takes a
conversation's sender lease (tagged by the conversation) with them in one
script on a single Redis; on a cluster the two live in different slots, so it
takes the lease, then the sends (two round trips, the same outcome).

`acquire` waits until both allow a send; it never errors because of a limit.
`acquire_many` takes up to ``n`` sends in one round trip (as many as the
buckets allow back to back right now, at least one): a sender with several
rows for one recipient asks once, not once per row.

**Live sends first.** A campaign shares its number's bucket with the
conversations' replies, but takes with a ``bulk`` `Limit`: it takes only
sends already earned (it may gather up to its burst of them while it was
busy, but never takes ahead of now), so after any bulk take the bucket is
never ahead of Redis' clock and a conversation's send (not bulk) finds room
at once. Live sends may run the bucket ahead by their own burst; bulk then
waits until the clock has caught up. The number's rate holds for the sum; a
reply waits only behind other replies, never behind the campaign's share.
A reply does not cost the campaign what it earned either: while a campaign
takes from the number (``ratelimit:wa:pool:{phone_number_id}`` holds its
pool's width), a live send is charged to sends earned and not yet taken before
it runs the bucket ahead; the sum still keeps to the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from api.outbox.locks import _ACQUIRE_LUA, RETRY_MEMO_MS
from api.redis_clients import is_cluster

def _gcra_lua(memo_key: int, first_arg: int) -> str:
    """Lua that takes up to N sends from the buckets KEYS[memo_key + 2..]: ARGV from
    ``first_arg + 1`` holds interval, tolerance and lag per bucket, then N, then how
    long a grant's memo lives (ms), then (optional, default 1) the fewest sends worth
    taking: while fewer fit, nothing is taken and ``wait`` says when that many will.
    The caller sees the bucket's clock ``lag`` µs
    behind Redis' (0, or a bulk `Limit`'s): with ``t = now - lag``, send k (0-based) of
    a grant fits a bucket when max(tat, t) + k * interval - tolerance <= t. Leaves
    ``grant`` (>= 1: the buckets moved; 0: nothing taken) and ``wait`` (µs).

    KEYS[memo_key + 1] is the first bucket's **pool** (the number's): a bulk take
    leaves its lag there (for a second, and the lag), the width of the earned sends it
    may gather. A live take (lag 0) sees the bucket from ``now - pool`` instead of
    ``now``: the sends it is granted (no more than without the pool) are charged to
    the time the campaign has earned and not yet taken, so a reply does not throw
    the campaign's earned sends away; without a campaign the bucket is as before.

    A grant is kept in KEYS[memo_key] (named by a take id the caller draws per take):
    the same take run again (redis-py's retry after a connection error, the first
    attempt having run) answers it again and takes nothing more."""
    grant_arg = f"{first_arg} + 3 * nbuckets + 1"
    return f"""
local nbuckets = #KEYS - {memo_key} - 1
local grant = tonumber(ARGV[{grant_arg}])
local least = math.min(grant, tonumber(ARGV[{grant_arg} + 2] or '1'))
local wait = 0
local memo = redis.call('GET', KEYS[{memo_key}])
if memo then
  grant = tonumber(memo)
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local pool = tonumber(redis.call('GET', KEYS[{memo_key} + 1]) or '0')
  local tats = {{}}
  for i = 1, nbuckets do
    local interval = tonumber(ARGV[{first_arg} + 3 * i - 2])
    local tolerance = tonumber(ARGV[{first_arg} + 3 * i - 1])
    local lag = tonumber(ARGV[{first_arg} + 3 * i])
    local seen = now - lag
    local tat = tonumber(redis.call('GET', KEYS[{memo_key} + 1 + i]) or '0')
    local floor = seen
    if i == 1 and lag == 0 and pool > 0 then floor = now - pool end
    if tat < floor then tat = floor end
    tats[i] = tat
    local from = tat
    if from < seen then from = seen end
    local room = math.floor((seen + tolerance - from) / interval) + 1
    if room < least then
      room = 0
      local w = from + (least - 1) * interval - tolerance - seen
      if w > wait then wait = w end
    end
    if room < grant then grant = room end
  end
  local bulk = tonumber(ARGV[{first_arg} + 3])
  if bulk > 0 then
    redis.call('SET', KEYS[{memo_key} + 1], bulk, 'PX', math.ceil(bulk / 1000) + 1000)
  end
  if grant >= 1 then
    wait = 0
    for i = 1, nbuckets do
      local tat = tats[i] + grant * tonumber(ARGV[{first_arg} + 3 * i - 2])
      redis.call('SET', KEYS[{memo_key} + 1 + i], tat, 'PX', math.max(1, math.ceil((tat - now) / 1000)) + 1000)
    end
    redis.call('SET', KEYS[{memo_key}], grant, 'PX', ARGV[{grant_arg} + 1])
  else
    grant = 0
  end
end
"""


# Returns {granted, wait_us}: granted >= 1 and the buckets moved, or 0 and the wait.
_GCRA = _gcra_lua(1, 0) + "return {grant, wait}\n"

# A sender lease (KEYS[1..3], ARGV[1..2]: as locks._ACQUIRE) and, once it is ours,
# up to N sends (KEYS[4] the take's memo, KEYS[5] the pool, KEYS[6..] the buckets, ARGV[3..]) in one
# round trip: {token, granted, wait_us}. Run twice, it answers the same (the lease's
# holder and the take's memo).
_LEASE_AND_TAKE = "local token\n" + _ACQUIRE_LUA + """
if token == 0 then return {0, 0, 0} end
""" + _gcra_lua(4, 2) + "return {token, grant, wait}\n"


def take_key(phone_number_id: str, take_id: str) -> str:
    """``ratelimit:wa:take:{phone_number_id}:<take id>``: one grant's memo (the number's tag)."""
    return f"ratelimit:wa:take:{{{phone_number_id}}}:{take_id}"


@dataclass(frozen=True)
class Limit:
    """``rate`` sends per ``per_seconds``; ``burst`` sends may go without spacing.

    ``bulk``: a campaign's share of a bucket it shares with live conversations. It
    takes only sends already earned (up to ``burst`` gathered while it was busy) and
    never runs the bucket ahead of the clock, so a live (not bulk) send on the same
    bucket never waits behind it; it waits for what live sends took."""

    rate: float
    per_seconds: float = 1.0
    burst: int = 1
    bulk: bool = False

    @property
    def interval_us(self) -> int:
        return max(1, int(self.per_seconds * 1_000_000 / self.rate))

    @property
    def tolerance_us(self) -> int:
        return self.interval_us * max(0, self.burst - 1)

    @property
    def lag_us(self) -> int:
        """How far behind the clock a taker sees the bucket: a bulk taker one interval
        more than its tolerance, so its grants end at or before the clock."""
        return self.tolerance_us + self.interval_us if self.bulk else 0


PAIR_LIMIT = Limit(rate=1, per_seconds=6, burst=45)


class SendRateLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_GCRA)
        self._lease_script = redis.register_script(_LEASE_AND_TAKE)

    @staticmethod
    def _buckets(phone_number_id: str, recipient: str | None, number_limit: Limit,
                 pair_limit: Limit | None) -> tuple[list[str], list[int]]:
        # the number's pool (what a campaign may gather: `_gcra_lua`), then the buckets
        keys = [f"ratelimit:wa:pool:{{{phone_number_id}}}", f"ratelimit:wa:number:{{{phone_number_id}}}"]
        args: list[int] = [number_limit.interval_us, number_limit.tolerance_us, number_limit.lag_us]
        if recipient and pair_limit is not None:
            keys.append(f"ratelimit:wa:pair:{{{phone_number_id}}}:{recipient}")
            args += [pair_limit.interval_us, pair_limit.tolerance_us, pair_limit.lag_us]
        return keys, args

    async def lease_and_take(self, lease: Any, phone_number_id: str, recipient: str | None,
                             number_limit: Limit, pair_limit: Limit | None = PAIR_LIMIT, n: int = 1) -> int | None:
        """`lease.acquire()` and, if the lease is ours, `try_acquire_many` in the same
        round trip: None when the lease is taken, else the sends granted (maybe 0)."""
        if is_cluster(self._redis):  # the lease's slot is not the buckets'
            if not await lease.acquire():
                return None
            try:
                granted, _ = await self.try_acquire_many(phone_number_id, recipient, number_limit, pair_limit, n)
            except BaseException:  # the caller never saw the lease: let it go, or its renewal keeps it forever
                with contextlib.suppress(Exception):
                    await lease.release()
                raise
            return granted
        keys, args = self._buckets(phone_number_id, recipient, number_limit, pair_limit)
        token, granted, _ = await self._lease_script(
            keys=[lease.key, lease.key + ":fence", lease.key + ":missed",
                  take_key(phone_number_id, uuid.uuid4().hex), *keys],
            args=[lease.ttl_ms, lease.holder, *args, max(1, int(n)), RETRY_MEMO_MS])
        if not lease.adopt(int(token)):
            return None
        return int(granted)

    async def try_acquire_many(self, phone_number_id: str, recipient: str | None, number_limit: Limit,
                               pair_limit: Limit | None = PAIR_LIMIT, n: int = 1,
                               at_least: int = 1) -> tuple[int, float]:
        """Take up to ``n`` sends that both buckets allow now: ``(granted, 0.0)``;
        ``(0, seconds to wait)`` when fewer than ``at_least`` (at most ``n``) fit."""
        keys, args = self._buckets(phone_number_id, recipient, number_limit, pair_limit)
        n = max(1, int(n))
        granted, wait_us = await self._script(keys=[take_key(phone_number_id, uuid.uuid4().hex), *keys],
                                              args=[*args, n, RETRY_MEMO_MS, min(n, max(1, int(at_least)))])
        return int(granted), int(wait_us) / 1_000_000

    async def try_acquire(self, phone_number_id: str, recipient: str | None,
                          number_limit: Limit, pair_limit: Limit | None = PAIR_LIMIT) -> float:
        """Take one send if both buckets allow it now: 0.0; else the seconds to wait."""
        granted, wait = await self.try_acquire_many(phone_number_id, recipient, number_limit, pair_limit, 1)
        return 0.0 if granted else wait

    async def acquire_many(self, phone_number_id: str, recipient: str | None, number_limit: Limit,
                           pair_limit: Limit | None = PAIR_LIMIT, n: int = 1, at_least: int = 1) -> int:
        """Wait until ``at_least`` sends (one by default) are allowed; take up to ``n``; how
        many were taken."""
        while True:
            granted, wait = await self.try_acquire_many(phone_number_id, recipient, number_limit, pair_limit, n,
                                                        at_least)
            if granted:
                return granted
            await asyncio.sleep(wait)

    async def acquire(self, phone_number_id: str, recipient: str | None,
                      number_limit: Limit, pair_limit: Limit | None = PAIR_LIMIT) -> None:
        """Wait until one send is allowed for this number and recipient, then take it."""
        while True:
            wait = await self.try_acquire(phone_number_id, recipient, number_limit, pair_limit)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

"""Reads on a streaming replica (``DATABASE_REPLICA_URL``), with read-your-writes.

`ReadRouter` picks the `Database` a read-only request runs on:

- no replica configured: the primary, always (nothing changes);
- after a user's successful write, `note_write` keeps the primary's WAL
  position (``pg_current_wal_insert_lsn()``, taken after the commit) in Redis under
  the user for ``replica_read_your_writes_seconds``, keeping the highest one;
  that user's reads go to the primary until the replica has replayed past it
  (``pg_last_wal_replay_lsn()``), so a user always sees what they just wrote;
  other users may read a little behind (the replica's lag);
- the replica unreachable (probe or query fails to connect, server shutting
  down): a warning is logged, the replica is left alone for
  ``DOWN_SECONDS`` and the read runs on the primary; never a 500.

The replica's replay position is cached for ``PROBE_SECONDS``: positions only
grow, so a cached one that is already past a user's write is proof enough;
otherwise the replica is asked again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, TypeVar

from api.db.session import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

KEY = "pytake:rw-lsn:{}"
PROBE_SECONDS = 0.5
DOWN_SECONDS = 2.0
PROBE_TIMEOUT = 2.0

# keep the highest position: two writes of one user may finish in either order
_KEEP_MAX = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

# the insert position, not pg_current_wal_lsn() (the *write* position): with
# synchronous_commit=off a just-committed record may still be in WAL buffers, before it
_POSITION = ("SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
             "ELSE pg_current_wal_insert_lsn() END - '0/0'::pg_lsn)::int8")


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server could not be reached or went away
    (not a bad query): connection refused/reset, timeouts, class 08, shutdown."""
    import asyncpg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "connection_invalidated", False):
            return True
        if isinstance(current, (OSError, asyncio.TimeoutError, asyncpg.InterfaceError)):
            return True
        state = str(getattr(current, "sqlstate", "") or "")
        if state.startswith("08") or state in ("57P01", "57P02", "57P03"):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


def _recovery_conflict(exc: BaseException) -> bool:
    """A standby cancelled the read (replayed a change it conflicted with): retry on the primary."""
    current: BaseException | None = exc
    for _ in range(4):
        if current is None:
            return False
        if str(getattr(current, "sqlstate", "") or "") == "40001":
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


class ReadRouter:
    def __init__(self, primary: Database, replica: Database | None, redis: Any, *,
                 read_your_writes_seconds: float = 60.0) -> None:
        self.primary = primary
        self.replica = replica
        self.redis = redis
        self.ttl_ms = max(1, int(read_your_writes_seconds * 1000))
        self._replayed = -1  # the replica's last known replay position (bytes)
        self._probed_at = float("-inf")
        self._down_until = float("-inf")
        self._keep_max = redis.register_script(_KEEP_MAX) if replica is not None else None
        self.fallbacks = 0  # reads sent to the primary because the replica was unreachable

    @property
    def enabled(self) -> bool:
        return self.replica is not None

    async def note_write(self, user_id: uuid.UUID | str) -> None:
        """After a user's committed write: their reads stay on the primary until the replica has it."""
        if self.replica is None:
            return
        async with self.primary.raw() as conn:
            position = int(await conn.fetchval(_POSITION))
        await self._keep_max(keys=[KEY.format(user_id)], args=[position, self.ttl_ms])

    async def choose(self, user_id: uuid.UUID | str | None) -> Database:
        """The database this user's read should run on."""
        if self.replica is None or time.monotonic() < self._down_until:
            return self.primary
        needed = 0
        if user_id is not None:
            try:
                raw = await self.redis.get(KEY.format(user_id))
            except Exception as exc:  # noqa: BLE001 - without the mark, the primary is always right
                log.warning("replica: cannot read the write mark of user %s (%s): reading the primary",
                            user_id, exc)
                return self.primary
            needed = int(raw) if raw else 0
        fresh = time.monotonic() - self._probed_at < PROBE_SECONDS
        if fresh and self._replayed >= needed:
            return self.replica
        try:
            await self._probe()
        except Exception as exc:  # noqa: BLE001 - any failure to ask: read the primary
            self._mark_down(exc)
            return self.primary
        return self.replica if self._replayed >= needed else self.primary

    async def run(self, user_id: uuid.UUID | str | None, read: Callable[[Database], Awaitable[T]]) -> T:
        """``await read(db)`` on the chosen database; a replica that fails to
        answer (unreachable, or a recovery conflict) is retried on the primary."""
        db = await self.choose(user_id)
        if db is self.primary:
            return await read(db)
        try:
            return await read(db)
        except Exception as exc:
            if unreachable(exc):
                self._mark_down(exc)
            elif not _recovery_conflict(exc):
                raise
            return await read(self.primary)

    async def _probe(self) -> None:
        assert self.replica is not None
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with self.replica.raw() as conn:
                position = await conn.fetchval(_POSITION)
        self._replayed = int(position) if position is not None else -1
        self._probed_at = time.monotonic()

    def _mark_down(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning("replica unreachable (%s): reads go to the primary for %.0f s", exc, DOWN_SECONDS)
        self.fallbacks += 1
        self._down_until = time.monotonic() + DOWN_SECONDS
        self._probed_at = float("-inf")

    async def dispose(self) -> None:
        if self.replica is not None:
            await self.replica.dispose()

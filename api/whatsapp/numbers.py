"""The business numbers webhooks name: ``phone_number_id`` → number, cached briefly.

Every webhook names its number(s); the ingest (`api.inbound.ingest`) and the
Meta apps' ownership check (`api.whatsapp.apps`) look them up here, so the
steady state costs no database round trip. Unknown or inactive numbers are
cached as ``None`` too.

A number created, changed (deactivated, its settings) or deleted through the
API counts up ``cache:numbers:generation`` once committed (`numbers_changed`);
the webhook's path looks at that counter at most once a second (`follow`) and
forgets every cached number when it moved. So another process stops taking a
deactivated number's messages, or starts taking a new number's, within about a
second, not at the cache's 30 s expiry.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import text

_NUMBER_CACHE_TTL = 30.0
GENERATION_KEY = "cache:numbers:generation"
FOLLOW_EVERY = 1.0  # seconds between two looks at GENERATION_KEY


@dataclass(frozen=True)
class NumberInfo:
    id: uuid.UUID
    organization_id: uuid.UUID
    phone_number_id: str
    settings: dict


class NumberDirectory:
    """``phone_number_id`` → number, cached briefly (webhooks name the number on every call)."""

    def __init__(self, follow_every: float = FOLLOW_EVERY) -> None:
        self._cache: dict[str, tuple[float, NumberInfo | None]] = {}
        self._follow_every = follow_every
        self._generation: Any = None
        self._followed = float("-inf")

    def forget(self) -> None:
        self._cache.clear()

    async def follow(self, redis: Any) -> None:
        """Forget every cached number when another process changed one (`numbers_changed`):
        one look at the counter every ``follow_every`` seconds at most."""
        now = time.monotonic()
        if now - self._followed < self._follow_every:
            return
        self._followed = now
        try:
            generation = await redis.get(GENERATION_KEY)
        except (RedisError, OSError):  # Redis out of reach: the webhook still stores its messages
            return
        if generation != self._generation:
            self._cache.clear()
            self._generation = generation

    def cached(self, phone_number_id: str) -> tuple[bool, NumberInfo | None]:
        hit = self._cache.get(phone_number_id)
        if hit and time.monotonic() - hit[0] < _NUMBER_CACHE_TTL:
            return True, hit[1]
        return False, None

    def _remember(self, phone_number_id: str, row: Any) -> NumberInfo | None:
        info = NumberInfo(row["id"], row["organization_id"], phone_number_id, row["settings"] or {}) if row else None
        self._cache[phone_number_id] = (time.monotonic(), info)
        return info

    async def get(self, session: Any, phone_number_id: str) -> NumberInfo | None:
        found, info = self.cached(phone_number_id)
        if found:
            return info
        row = (await session.execute(_NUMBER, {"pnid": phone_number_id})).mappings().first()
        return self._remember(phone_number_id, row)

    async def get_raw(self, conn: Any, phone_number_id: str) -> NumberInfo | None:
        """`get` on a raw asyncpg connection (`Database.raw`)."""
        found, info = self.cached(phone_number_id)
        if found:
            return info
        return self._remember(phone_number_id, await conn.fetchrow(_NUMBER_RAW, phone_number_id))


_NUMBER_SQL = ("SELECT id, organization_id, settings FROM whatsapp_numbers "
               "WHERE phone_number_id = {} AND deleted_at IS NULL AND is_active IS NOT FALSE")
_NUMBER = text(_NUMBER_SQL.format(":pnid"))
_NUMBER_RAW = _NUMBER_SQL.format("$1")


NUMBERS = NumberDirectory()


async def numbers_changed(redis: Any) -> None:
    """A number was created, changed or deleted (committed): this process forgets its
    cached numbers now, the others at their next `NumberDirectory.follow`."""
    NUMBERS.forget()
    await redis.incr(GENERATION_KEY)

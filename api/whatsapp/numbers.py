"""The business numbers webhooks name: ``phone_number_id`` → number, cached briefly.

Every webhook names its number(s); the ingest (`api.inbound.ingest`) and the
Meta apps' ownership check (`api.whatsapp.apps`) look them up here, so the
steady state costs no database round trip. Unknown or inactive numbers are
cached as ``None`` too.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

_NUMBER_CACHE_TTL = 30.0


@dataclass(frozen=True)
class NumberInfo:
    id: uuid.UUID
    organization_id: uuid.UUID
    phone_number_id: str
    settings: dict


class NumberDirectory:
    """``phone_number_id`` → number, cached briefly (webhooks name the number on every call)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, NumberInfo | None]] = {}

    def forget(self) -> None:
        self._cache.clear()

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

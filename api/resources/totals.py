"""Totals of large lists, counted at most once every few seconds per process.

Every list page carries ``total`` (the dashboard shows it and jumps to page
N). Counting is the expensive half of a page: 10,000 conversations cost
PostgreSQL about 0.5 ms of CPU per count, more than the page itself, and it
grows with the table. So, like the ``count`` of large help-desk accounts, a
total of at least ``list_total_cache_min_rows`` rows is reused for up to
``list_total_cache_seconds`` by the process that counted it, and the page
says so with ``total_cached: true``. The items themselves are always read
fresh. Smaller lists are always counted (exact), and any write through the
API in this process drops the organization's cached totals at once, so a
user who creates or deletes something sees the new total on the next page;
writes made by other processes show within the TTL.

Keys are (organization, resource, the request's filter parameters): the
same filters give the same total whatever the page, per_page or sort.

When a total expires, the first request counts again and the others keep
the previous total until it is done (one count, not one per request in
flight: under load a whole burst of requests used to recount at once, every
few seconds, which was the list's p99). Should that count never come back,
the next request after another TTL counts.
"""

from __future__ import annotations

import time
import uuid
from typing import Hashable, Mapping, Sequence

MAX_KEYS_PER_ORG = 256  # distinct filter combinations kept per organization


class TotalsCache:
    def __init__(self, ttl_seconds: float, min_rows: int) -> None:
        self.ttl = ttl_seconds
        self.min_rows = min_rows
        # key -> (total, expires at, recounting until: a request is counting again)
        self._orgs: dict[uuid.UUID, dict[Hashable, tuple[int, float, float]]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    @staticmethod
    def key(resource: str, args: Mapping[str, str], params: Sequence[str]) -> Hashable:
        """The cache key of a list request: its resource and filter values (not paging)."""
        return (resource, tuple((name, args.get(name)) for name in params if args.get(name)))

    def get(self, organization_id: uuid.UUID, key: Hashable) -> int | None:
        if not self.enabled:
            return None
        entries = self._orgs.get(organization_id)
        entry = entries.get(key) if entries else None
        if entry is None:
            return None
        total, expires, recounting_until = entry
        now = time.monotonic()
        if now < expires or now < recounting_until:
            return total
        entries[key] = (total, expires, now + self.ttl)  # this caller counts; the others wait for it
        return None

    def put(self, organization_id: uuid.UUID, key: Hashable, total: int) -> None:
        """Remember ``total`` if it is large enough to be worth not counting again."""
        if not self.enabled:
            return
        if total < self.min_rows:  # small again: counted every time (and no stale total kept)
            self._orgs.get(organization_id, {}).pop(key, None)
            return
        entries = self._orgs.setdefault(organization_id, {})
        if len(entries) >= MAX_KEYS_PER_ORG and key not in entries:
            entries.pop(next(iter(entries)))  # the oldest combination
        entries[key] = (total, time.monotonic() + self.ttl, 0.0)

    def invalidate(self, organization_id: uuid.UUID) -> None:
        """A write in this organization: count again next time."""
        self._orgs.pop(organization_id, None)

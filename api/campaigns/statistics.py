"""Keep the planner's row counts of the tables a campaign grows in step with them.

A campaign's claims add a ``messages`` row (to the current month's partition)
and up to one ``conversations`` row per recipient, thousands a second. Plans
made while those were small read them by sequential scan (the status
webhooks' statement, `api.inbound.statuses._APPLY`, and the claim's
open-conversation lookup), each reading the whole table per batch, more per
message the longer the campaign ran. So the runner analyzes a table it has
outgrown (`api.db.growth.GrowthAnalyzer`: once it added as many rows as the
table held at its last look, at least `MIN_ROWS`), in the background.
"""

from __future__ import annotations

from typing import Any

from api.db import growth
from api.db.growth import MIN_ROWS

# the partition the campaign's latest row went to
_PARTITION = "SELECT m.tableoid::regclass::text FROM messages m WHERE m.id = $1 AND m.created_at = $2"


async def _partition(conn: Any, last: Any) -> dict[str, str]:
    name = await conn.fetchval(_PARTITION, last["id"], last["created_at"])
    return {"messages": name} if name else {}


class GrowthAnalyzer(growth.GrowthAnalyzer):
    """One campaign run's tracker: `grew` after each claim with the rows it inserted."""

    def __init__(self, db: Any, min_rows: int = MIN_ROWS) -> None:
        super().__init__(db, ("messages", "conversations"), _partition, min_rows, "campaign statistics")

    def grew(self, rows: list[Any]) -> None:  # type: ignore[override]
        """``rows`` (with ``id`` and ``created_at``) were inserted into ``messages``, and at
        most as many conversations opened."""
        if rows:
            super().grew({"messages": len(rows), "conversations": len(rows)}, rows[-1])


__all__ = ["GrowthAnalyzer", "MIN_ROWS"]

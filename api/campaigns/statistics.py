"""Keep the planner's row counts of the tables a campaign grows in step with them.

The hot statements run on raw connections with ``plan_cache_mode =
force_generic_plan`` (`api.db.session`): each is planned once per connection
and the plan is kept until one of its tables is analyzed. A plan made while
``messages`` (its current partition) and ``conversations`` were small reads
them by sequential scan (cheaper than an index below a few hundred rows), and
keeps doing it while a campaign adds thousands of rows: the status webhooks'
statement (`api.inbound.statuses._APPLY`), the claim's open-conversation
lookup, each reading the whole table per batch, more per message the longer
the campaign ran. Autovacuum's ANALYZE comes at most once a minute (never
when it is off), and a campaign at 1,000 msg/s outgrows a small table within
a second.

So the runner analyzes a table it grows once it has added as many rows as
the table held at its last look (at least `MIN_ROWS`): the plans are then
made again (the ANALYZE invalidates them on every connection) with row counts
at most twice off. A large table is never analyzed by a campaign smaller than
itself; a small one costs milliseconds. ``SKIP_LOCKED``: a table autovacuum is
working on is left to it. In the background: sending never waits for it.
Each ANALYZE makes every connection plan its statements on those tables again
(the status statement alone takes milliseconds to plan), so below `MIN_ROWS`
added rows it is not worth it: a table that small costs little to scan.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.db.session import Database

log = logging.getLogger("pytake.campaigns")

MIN_ROWS = 1000

# the partition the campaign's latest row went to, and what the planner believes of it and of conversations
_SIZES = """
SELECT m.tableoid::regclass::text AS messages, p.reltuples AS messages_rows,
       'conversations' AS conversations, c.reltuples AS conversations_rows
  FROM messages m JOIN pg_class p ON p.oid = m.tableoid
  JOIN pg_class c ON c.oid = 'conversations'::regclass
 WHERE m.id = $1 AND m.created_at = $2"""


class GrowthAnalyzer:
    """One campaign run's tracker: `grew` after each claim with the rows it inserted."""

    def __init__(self, db: Database, min_rows: int = MIN_ROWS) -> None:
        self.db, self.min_rows = db, min_rows
        self.added = {"messages": 0, "conversations": 0}  # rows added since the table's last ANALYZE
        self.due = {"messages": min_rows, "conversations": min_rows}  # when to look again
        self.analyzed: list[str] = []  # the tables analyzed, in order (for tests and benchmarks)
        self._task: asyncio.Task | None = None
        self._off = False

    def grew(self, rows: list[Any]) -> None:
        """``rows`` (with ``id`` and ``created_at``) were inserted into ``messages``, and at
        most as many conversations opened."""
        if not rows or self._off:
            return
        for table in self.added:
            self.added[table] += len(rows)
        if self._task is not None and not self._task.done():
            return
        if any(self.added[t] >= self.due[t] for t in self.added):
            last = rows[-1]
            self._task = asyncio.create_task(self._analyze(last["id"], last["created_at"]))

    async def wait(self) -> None:
        """The ANALYZE under way, if any, finished."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _analyze(self, message_id: Any, created_at: Any) -> None:
        try:
            async with self.db.raw() as conn:
                row = await conn.fetchrow(_SIZES, message_id, created_at)
                if row is None:
                    return
                tables = []
                for table in self.added:
                    size = max(0.0, float(row[f"{table}_rows"]))  # -1: never analyzed
                    if self.added[table] >= max(self.min_rows, size):
                        tables.append((table, row[table]))
                    else:  # its count holds: look again once the campaign doubled it
                        self.due[table] = max(self.min_rows, int(size))
                if not tables:
                    return
                # names from the catalogue (regclass output is quoted as needed)
                await conn.execute(f"ANALYZE (SKIP_LOCKED) {', '.join(name for _, name in tables)}")
                self.analyzed += [name for _, name in tables]
                for table, _ in tables:
                    self.due[table] = self.min_rows  # next look: the new count decides
                    self.added[table] = 0
        except Exception as exc:  # noqa: BLE001 - statistics are an optimisation: the campaign goes on
            log.warning("campaign statistics: ANALYZE failed (%s); not tried again in this run", exc)
            self._off = True


__all__ = ["GrowthAnalyzer", "MIN_ROWS"]

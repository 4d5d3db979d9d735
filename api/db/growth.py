"""Keep the planner's row counts of the tables a writer grows in step with them.

The hot statements run on raw connections with ``plan_cache_mode =
force_generic_plan`` (`api.db.session`): each is planned once per connection
and the plan is kept until one of its tables is analyzed. A plan made while a
table was small reads it by sequential scan (cheaper than an index below a
few hundred rows), and keeps doing it while a writer adds thousands of rows:
each batch then reads the whole table, more per row the longer it runs.
Autovacuum's ANALYZE comes at most once a minute (never when it is off), and
a campaign at 1,000 msg/s outgrows a small table within a second.

So a writer that grows tables says how many rows it added (`GrowthAnalyzer.grew`);
once it has added as many as a table held at its last look (at least
`MIN_ROWS`), the table is analyzed: the plans are then made again (the
ANALYZE invalidates them on every connection) with row counts at most twice
off. A large table is never analyzed by a writer that added fewer rows than it
holds; a small one costs milliseconds. ``SKIP_LOCKED``: a table autovacuum is
working on is left to it. In the background: the writer never waits for it.
Each ANALYZE makes every connection plan its statements on that table again,
so below `MIN_ROWS` added rows it is not worth it: a table that small costs
little to scan.

Users: the campaign runner (`api.campaigns.statistics`: ``messages``, its
partition, and ``conversations``) and the PostgreSQL log store
(`api.logstore.postgres`: ``message_logs``, its partition, and
``conversation_logs``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger("pytake.db.growth")

MIN_ROWS = 1000

# what the planner believes of relations (-1: never analyzed)
_RELTUPLES = ("SELECT c.oid::regclass::text AS name, c.reltuples FROM pg_class c "
              "WHERE c.oid = ANY(CAST($1::text[] AS regclass[]))")

# (connection, the writer's hint) -> {table: relation to analyze}: a partitioned table's partition
Locate = Callable[[Any, Any], Awaitable[dict[str, str]]]


async def same_names(conn: Any, hint: Any) -> dict[str, str]:
    """Tables that are their own relation (not partitioned)."""
    return {}


class GrowthAnalyzer:
    """One writer's tracker of ``tables``: `grew` after each write with the rows it added.
    ``locate`` names the relation each table's rows went to (a partition), from the
    writer's hint (e.g. the last row written); a table it does not name is analyzed whole."""

    def __init__(self, db: Any, tables: tuple[str, ...], locate: Locate = same_names,
                 min_rows: int = MIN_ROWS, what: str = "statistics") -> None:
        self.db, self.min_rows, self.locate, self.what = db, min_rows, locate, what
        self.added = {t: 0 for t in tables}  # rows added since the table's last ANALYZE
        self.due = {t: min_rows for t in tables}  # when to look again
        self.analyzed: list[str] = []  # the relations analyzed, in order (for tests and benchmarks)
        self._task: asyncio.Task | None = None
        self._hint: Any = None  # the latest hint given
        self._off = False

    def grew(self, rows: dict[str, int], hint: Any = None) -> None:
        """``rows[table]`` rows were added to each table; ``hint`` is handed to ``locate``."""
        if self._off:
            return
        for table, n in rows.items():
            if table in self.added:
                self.added[table] += n
        if hint is not None:
            self._hint = hint
        if self._task is not None and not self._task.done():
            return  # the look under way looks again before it ends if a table became due meanwhile
        if self._is_due():
            self._task = asyncio.create_task(self._analyze())

    def _is_due(self) -> bool:
        return not self._off and any(self.added[t] >= self.due[t] for t in self.added)

    async def wait(self) -> None:
        """The ANALYZE under way, if any, finished."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _analyze(self) -> None:
        while self._is_due():  # each look analyzes a due table or raises its due count, or stops all
            await self._look()

    async def _look(self) -> None:
        try:
            async with self.db.raw() as conn:
                names = {t: t for t in self.added}
                names.update(await self.locate(conn, self._hint))
                sizes = {r["name"]: float(r["reltuples"])
                         for r in await conn.fetch(_RELTUPLES, sorted(set(names.values())))}
                chosen = []
                for table, name in names.items():
                    size = max(0.0, sizes.get(name, 0.0))  # -1: never analyzed
                    if self.added[table] >= max(self.min_rows, size):
                        chosen.append((table, name))
                    else:  # its count holds: look again once the writer doubled it
                        self.due[table] = max(self.min_rows, int(size))
                if not chosen:
                    return
                # names from the catalogue (regclass output is quoted as needed)
                await conn.execute(f"ANALYZE (SKIP_LOCKED) {', '.join(sorted({name for _, name in chosen}))}")
                self.analyzed += [name for _, name in chosen]
                for table, _ in chosen:
                    self.due[table] = self.min_rows  # next look: the new count decides
                    self.added[table] = 0
        except Exception as exc:  # noqa: BLE001 - statistics are an optimisation: the writer goes on
            log.warning("%s: ANALYZE failed (%s); not tried again by this writer", self.what, exc)
            self._off = True


__all__ = ["GrowthAnalyzer", "Locate", "MIN_ROWS", "same_names"]

"""The maintenance loop refreshes each organization's analytics snapshots (docs/analytics.md)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from api.workers import maintenance


async def test_a_tick_refreshes_the_current_and_previous_periods(runtime, seeded, db, redis) -> None:  # noqa: ANN001
    org = seeded.organization_id
    async with db.transaction() as s:
        await s.execute(text("UPDATE organizations SET settings = '{\"timezone\": \"America/Sao_Paulo\"}' "
                             "WHERE id = :o"), {"o": org})
    await maintenance.tick(runtime)

    async def periods() -> list[tuple[str, int]]:
        async with db.session() as s:
            return [tuple(r) for r in (await s.execute(text(
                "SELECT period, count(*) FROM analytics_snapshots WHERE organization_id = :o "
                "AND timezone = 'America/Sao_Paulo' GROUP BY 1 ORDER BY 1"), {"o": org})).all()]

    deadline = time.monotonic() + 60
    while await periods() != [("day", 2), ("hour", 2), ("month", 2), ("week", 2)]:
        assert time.monotonic() < deadline, await periods()
        await asyncio.sleep(0.1)
    # one worker per turn: the next refresh waits for its interval
    assert 0 < await redis.pttl("maintenance:analytics-snapshots") <= maintenance.SNAPSHOTS_EVERY * 1000
    assert 0 < await redis.pttl("maintenance:analytics-snapshots-long") <= 3600 * 1000

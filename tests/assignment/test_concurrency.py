"""Many handoffs at once, several agents, several assigners racing (each with its own
connection pool, as separate processes would): no conversation goes to two agents,
none is left behind while someone has room, nobody passes their maximum, and
round robin spreads the work evenly."""

from __future__ import annotations

import asyncio
from collections import Counter

from api.assignment import assign_all, assign_department, sweep
from api.db.session import Database

ASSIGNERS = 4


async def _race(database_url, redis, rounds):  # noqa: ANN001
    """``rounds``: per assigner, the coroutine factories it runs one after another."""
    dbs = [Database(database_url, raw_pool_size=2) for _ in range(ASSIGNERS)]
    try:
        async def assigner(db, jobs):  # noqa: ANN001
            done = []
            for job in jobs:
                done += await job(db)
            return done

        results = await asyncio.gather(*(assigner(db, jobs) for db, jobs in zip(dbs, rounds)))
    finally:
        for db in dbs:
            await db.dispose()
    return [a for r in results for a in r]


async def test_a_burst_of_handoffs_is_assigned_once_each_and_spread_evenly(world, db, redis, database_url):
    dept = await world.department("round_robin")
    agents = [await world.agent(dept, max_open=100) for _ in range(5)]
    queued = [await world.waiting(dept, ago=0.001 * (200 - i)) for i in range(200)]

    def job(db):  # noqa: ANN001
        return assign_department(db, redis, dept)

    def swept(db):  # noqa: ANN001
        return sweep(db, redis)

    await _race(database_url, redis, [[job, swept, job]] * ASSIGNERS)
    given = await world.assignees(queued)
    spread = Counter(given)
    print(f"\nround robin spread of 200 handoffs over 5 agents, {ASSIGNERS} racing assigners: "
          f"{sorted(spread.values())}")
    assert None not in spread and set(spread) == set(agents)
    assert max(spread.values()) - min(spread.values()) <= 1
    async with db.raw() as conn:
        events = Counter(r[0] for r in await conn.fetch(
            "SELECT ordering_key FROM events WHERE type = 'conversation.assigned'"))
    assert len(events) == 200 and set(events.values()) == {1}  # one assignment (and event) each


async def test_agents_shared_by_departments_never_pass_their_maximum(world, db, redis, database_url):
    sales, support = await world.department("load_balance"), await world.department("round_robin")
    agents = [await world.agent(sales, support, max_open=3) for _ in range(4)]
    queued = [await world.waiting(d) for _ in range(20) for d in (sales, support)]

    def both(order):  # noqa: ANN001
        return lambda db: assign_all(db, redis, order)

    # assigners take the departments in opposite orders (assign_all sorts them) and at once
    rounds = [[both([sales]), both([support])], [both([support]), both([sales])],
              [both([sales, support])], [lambda db: assign_department(db, redis, support),
                                         lambda db: assign_department(db, redis, sales)]]
    done = await _race(database_url, redis, rounds)
    load = Counter(a for a in await world.assignees(queued) if a is not None)
    print(f"\nshared agents' load (max 3 each): {sorted(load.values())}")
    assert load == {a: 3 for a in agents}
    assert len(done) == 12 and len({a.conversation_id for a in done}) == 12

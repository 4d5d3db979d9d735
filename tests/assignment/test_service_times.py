"""Waiting, first-response and resolution times of a conversation, as analytics reads them."""

from __future__ import annotations

import time

from api.assignment import assign_department, service_times


async def test_times_are_none_until_they_happen_then_measured_from_the_records(world, db, redis):
    dept = await world.department()
    agent = await world.agent(dept)
    await world.greeting(agent, "Hello")  # automatic: not a response
    started = time.monotonic()
    c = await world.waiting(dept, ago=30)
    async with db.raw() as conn:
        assert (await service_times(conn, world.org, [c]))[c].waiting_seconds is None
    await assign_department(db, redis, dept)
    elapsed = time.monotonic() - started  # however slow the machine, the wait is 30 s plus this
    async with db.raw() as conn:
        times = (await service_times(conn, world.org, [c]))[c]
        assert 30 <= times.waiting_seconds <= 30 + elapsed + 1
        assert times.first_response_seconds is None and times.resolution_seconds is None
        await conn.execute(
            "INSERT INTO messages (conversation_id, direction, sender_type, sender_id, type, content, created_at) "
            "SELECT id, 'outbound', 'agent', $2, 'text', '{\"text\": \"hi\"}', assigned_at + interval '12 seconds' "
            "FROM conversations WHERE id = $1", c, agent)
        await conn.execute("UPDATE conversations SET status = 'resolved', "
                           "resolved_at = handoff_at + interval '300 seconds' WHERE id = $1", c)
        times = (await service_times(conn, world.org, [c]))[c]
        other_org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('o', 'o-x') RETURNING id")
        assert await service_times(conn, other_org, [c]) == {}  # scoped to the organization
    assert abs(times.first_response_seconds - 12) < 0.01
    assert abs(times.resolution_seconds - 300) < 0.01

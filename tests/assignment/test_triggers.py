"""Domain events drive assignment: a handoff is picked up, a close or transfer frees
an agent, and every assignment writes its `conversation.assigned` event."""

from __future__ import annotations

import asyncio

from api.assignment import CONSUMER, on_events
from api.events import conversation_payload, emit_conn, event
from api.events.consumer import backlog


async def drain(db, redis, timeout: float = 60.0):  # noqa: ANN001
    """Run the consumer until it has handled every committed event. (It reads events
    older than every running transaction of the server: another session's long
    transaction holds it back for a while, so wait for the condition.)"""
    done = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        done += await on_events(db, redis)
        if await backlog(db, CONSUMER) == 0:
            return done
        assert loop.time() < deadline, "the assignment consumer never caught up"
        await asyncio.sleep(0.05)


async def _emit(db, org, type_, conversation_id):  # noqa: ANN001
    async with db.raw() as conn:
        async with conn.transaction():
            row = await conn.fetchrow("SELECT * FROM conversations WHERE id = $1 FOR UPDATE", conversation_id)
            await emit_conn(conn, event(org, type_, conversation_payload(dict(row)), conversation_id))


async def test_a_handoff_event_gets_the_conversation_assigned_with_its_event(world, db, redis):
    dept = await world.department()
    agent = await world.agent(dept)
    c = await world.waiting(dept, ago=7)
    await _emit(db, world.org, "conversation.handoff", c)
    done = await drain(db, redis)
    assert [(a.conversation_id, a.agent_id) for a in done] == [(c, agent)]
    async with db.raw() as conn:
        assigned = await conn.fetch("SELECT ordering_key, payload FROM events WHERE type = 'conversation.assigned'")
    assert len(assigned) == 1 and assigned[0]["ordering_key"] == c
    data = assigned[0]["payload"]
    assert data["conversation"]["assigned_agent_id"] == str(agent)
    assert data["conversation"]["status"] == "assigned"
    assert data["assignment"]["strategy"] == "round_robin" and data["assignment"]["waiting_seconds"] >= 7
    assert await drain(db, redis) == []  # handled once


async def test_a_close_event_hands_the_freed_agent_the_next_conversation(world, db, redis):
    dept = await world.department()
    agent = await world.agent(dept, max_open=1)
    first = await world.waiting(dept, ago=60)
    await _emit(db, world.org, "conversation.handoff", first)
    await drain(db, redis)
    second = await world.waiting(dept, ago=30)
    await _emit(db, world.org, "conversation.handoff", second)
    assert await drain(db, redis) == []  # the agent is full
    await world.execute("UPDATE conversations SET status = 'closed' WHERE id = $1", first)
    await _emit(db, world.org, "conversation.closed", first)
    assert [a.conversation_id for a in await drain(db, redis)] == [second]
    assert await world.assignees([second]) == [agent]


async def test_a_transfer_back_to_the_queue_goes_to_another_available_agent(world, db, redis):
    sales = await world.department()
    support = await world.department()
    seller = await world.agent(sales)
    helper = await world.agent(support)
    c = await world.waiting(sales)
    await _emit(db, world.org, "conversation.handoff", c)
    await drain(db, redis)
    assert await world.assignees([c]) == [seller]
    await world.execute("UPDATE conversations SET department_id = $2, status = 'waiting_in_queue', "
                        "assigned_to = NULL, entered_queue_at = now() WHERE id = $1", c, support)
    await _emit(db, world.org, "conversation.transferred", c)
    await drain(db, redis)
    assert await world.assignees([c]) == [helper]


async def test_events_of_other_types_run_no_pass(world, db, redis):
    dept = await world.department()
    await world.agent(dept)
    c = await world.waiting(dept)
    await _emit(db, world.org, "conversation.created", c)
    assert await drain(db, redis) == []
    assert (await world.conversation(c))["status"] == "waiting_in_queue"  # the sweep's job

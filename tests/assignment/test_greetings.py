"""The assigned agent's greeting goes out as their message, through the outbox."""

from __future__ import annotations

from api.assignment import assign_department
from api.workers.queue import LANES


async def test_the_agents_greeting_is_queued_with_its_variables_filled(world, db, redis):
    dept = await world.department(name="Billing")
    agent = await world.agent(dept, name="Ana")
    await world.greeting(agent, "Hi {{contact_name}}, I'm {{agent_name}} from {{agent_department}}. "
                                "{{unknown}} ({{day}} {{time}})")
    c = await world.waiting(dept, contact_name="Bruno")
    [done] = await assign_department(db, redis, dept)
    [msg] = await world.fetch("SELECT * FROM messages WHERE conversation_id = $1", c)
    assert (msg["direction"], msg["sender_type"], msg["sender_id"], msg["status"]) == (
        "outbound", "agent", agent, "pending")
    text = msg["content"]["text"]
    assert text.startswith("Hi Bruno, I'm Ana from Billing. {{unknown}} (")
    assert done.greeting_id == msg["id"]
    assert (await world.conversation(c))["message_count"] == 1
    queued = [q.decode() for lane in LANES for q in await redis.lrange(lane, 0, -1)]
    assert any(str(msg["id"]) in q for q in queued)  # the sender was woken for it


async def test_no_greeting_when_it_is_inactive_or_not_auto_sent(world, db, redis):
    dept = await world.department()
    quiet = await world.agent(dept, max_open=1)
    off = await world.agent(dept, max_open=1)
    await world.greeting(quiet, "Hello", auto_send=False)
    await world.greeting(off, "Hello", is_active=False)
    convs = [await world.waiting(dept) for _ in range(2)]
    await assign_department(db, redis, dept)
    assert set(await world.assignees(convs)) == {quiet, off}
    assert await world.fetch("SELECT id FROM messages WHERE conversation_id = ANY($1::uuid[])", convs) == []
